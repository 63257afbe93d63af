"""The policy pack, as `pulumi preview --policy-pack policy` loads it.

Constructing a PolicyPack starts a gRPC server and blocks, so nothing imports this module:
the validators live in policy/validators.py and are unit-tested there.
"""

import sys
from pathlib import Path

# Pulumi runs this file as a script from policy/: make the project importable as it is in tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ResourceValidationPolicy,
)

from policy import validators

PolicyPack(
    name="supastack",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        ResourceValidationPolicy(
            name=name,
            description=description,
            validate=validate,
            enforcement_level=level,
            config_schema=PolicyConfigSchema(properties=validators.CONFIG_SCHEMA_PROPERTIES),
        )
        for name, description, validate, level in [
            (*entry, EnforcementLevel.MANDATORY) for entry in validators.MANDATORY
        ]
        + [(*entry, EnforcementLevel.ADVISORY) for entry in validators.ADVISORY]
    ],
)
