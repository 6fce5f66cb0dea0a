"""The city data models: entity types, their JSON Schemas, and the checks of writes."""
