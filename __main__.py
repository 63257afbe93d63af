"""supastack's Pulumi program: read the stack settings, build the Platform, export outputs."""

from pathlib import Path

import pulumi

from components.platform import Platform
from components.stack_config import read_stack_settings

settings = read_stack_settings()
platform = Platform("supastack", {"settings": settings, "project_dir": Path(__file__).parent})

pulumi.export("target", settings.target.value)
pulumi.export("databaseHost", platform.database_host)
pulumi.export("databasePort", platform.database_port)
pulumi.export("functionsUrl", platform.functions_url)
