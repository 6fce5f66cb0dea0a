"""City services on top of the hub (REFERENCE §4–6): one package per service, each with its
API, data models, default rules and SOP templates, docs and a map layer.

    catalog.py   what a service declares (:class:`Service`) and the catalog API: list the
                 services, set one up in a tenant (its default rules and SOP templates)
    parking/     lots and spots, availability, nearest free lot, shared parking, enforcement
    air/         CAI, moving averages, fine-dust alerts
    facility/    structural sensors, safety grades; electrical-fire panels; smart crosswalks
    care/        elderly-alone alerts, missing persons, safe way home
"""
