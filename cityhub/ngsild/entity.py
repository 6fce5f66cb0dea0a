"""The stored (internal) form of an NGSI-LD entity, shared by storage, query and rendering.

Entities are kept *expanded*: entity types, attribute names and sub-attribute names are full
IRIs, so that two requests with different @contexts address the same data. Values of properties
are kept as given (keys inside compound values are not expanded), relationship objects are IRIs.

    {
      "id": "urn:ngsi-ld:ParkingSpot:1",
      "type": ["https://smartdatamodels.org/dataModel.Parking/ParkingSpot"],
      "scope": ["/Gwacheon/Jungang"],                     # optional
      "createdAt": "2026-01-01T00:00:00.000000Z",
      "modifiedAt": "2026-01-01T00:00:00.000000Z",
      "attrs": {
        "https://smartdatamodels.org/dataModel.Parking/status": [   # list of instances
          {"type": "Property", "value": "free",
           "observedAt": "...", "unitCode": "...", "datasetId": "urn:...",   # optional
           "createdAt": "...", "modifiedAt": "...",
           "https://example.org/sub": {"type": "Property", "value": 1, ...}  # sub-attributes
          }
        ]
      }
    }

An attribute instance has ``type`` one of :data:`ATTRIBUTE_TYPES` and the value member of that
type (:data:`VALUE_MEMBER`). At most one instance of an attribute has no ``datasetId`` (the
default instance). Every key of an instance that is not in :data:`INSTANCE_MEMBERS` is a
sub-attribute, keyed by expanded IRI (IRIs always contain ``:``), holding one instance.
"""

from __future__ import annotations

from typing import Any

Entity = dict[str, Any]
Instance = dict[str, Any]

PROPERTY = "Property"
RELATIONSHIP = "Relationship"
GEO_PROPERTY = "GeoProperty"
LANGUAGE_PROPERTY = "LanguageProperty"
JSON_PROPERTY = "JsonProperty"
LIST_PROPERTY = "ListProperty"
LIST_RELATIONSHIP = "ListRelationship"
VOCAB_PROPERTY = "VocabProperty"

#: attribute type -> the member that carries its value
VALUE_MEMBER: dict[str, str] = {
    PROPERTY: "value",
    GEO_PROPERTY: "value",
    RELATIONSHIP: "object",
    LANGUAGE_PROPERTY: "languageMap",
    JSON_PROPERTY: "json",
    LIST_PROPERTY: "valueList",
    LIST_RELATIONSHIP: "objectList",
    VOCAB_PROPERTY: "vocab",
}
ATTRIBUTE_TYPES = frozenset(VALUE_MEMBER)

#: members of an instance that are not sub-attributes
INSTANCE_MEMBERS = frozenset(
    {
        "type",
        "value",
        "object",
        "objectType",
        "languageMap",
        "json",
        "valueList",
        "objectList",
        "vocab",
        "datasetId",
        "observedAt",
        "unitCode",
        "createdAt",
        "modifiedAt",
        "deletedAt",
        "instanceId",
        "lang",
    }
)

#: entity members that are not attributes, in the order they are rendered
ENTITY_MEMBERS = ("id", "type", "scope", "createdAt", "modifiedAt", "deletedAt")

#: names that cannot be used as attribute names
RESERVED_ATTRIBUTE_NAMES = frozenset(
    {"id", "type", "scope", "@context", "createdAt", "modifiedAt", "deletedAt", "@id", "@type"}
)


def value_of(instance: Instance) -> Any:
    """The value an instance carries (``value``, ``object``, ``languageMap``...)."""
    return instance.get(VALUE_MEMBER.get(instance.get("type", PROPERTY), "value"))


def sub_attributes(instance: Instance) -> dict[str, Instance]:
    """The sub-attributes of an instance, keyed by expanded name."""
    return {k: v for k, v in instance.items() if k not in INSTANCE_MEMBERS}
