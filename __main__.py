"""supastack's Pulumi program: read the stack settings, build the Platform, export its outputs."""

from pathlib import Path

import pulumi

from components.platform import Platform
from components.stack_config import read_stack_settings

settings = read_stack_settings()
platform = Platform("supastack", {"settings": settings, "project_dir": Path(__file__).parent})

for key, value in platform.outputs.items():  # the contract: supastack.outputs.StackOutputs
    pulumi.export(key, value)
