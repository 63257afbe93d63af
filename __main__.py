"""supastack's Pulumi program: read the stack settings, plan and credentials, build the Platform
(which does no I/O), export its outputs."""

from pathlib import Path

import pulumi

from components.platform import Platform
from components.stack_config import read_credentials, read_stack_settings
from supastack.plan.stack import plan_stack

project_dir = Path(__file__).parent
settings = read_stack_settings()
platform = Platform(
    "supastack",
    {
        "settings": settings,
        "project_dir": project_dir,
        "plan": plan_stack(settings, project_dir),  # every check, before any resource
        "credentials": read_credentials(settings, project_dir),
    },
)

for key, value in platform.outputs.items():  # the contract: supastack.delivery.outputs.StackOutputs
    pulumi.export(key, value)
