"""The Pulumi layer: ComponentResources and dynamic resources, thin.

Every decision and every database or API call is delegated to :mod:`supastack`; modules here
only declare resources.
"""
