"""An account's life after install: provisioning its Airbyte source and connection
(`provisioner`, driven by `provision_queue` and repaired by `reconcile`), watching its token
(`token_health`), noticing uninstalls (`journal`) and offboarding it (`uninstall`, which reuses the
lease-protected `provisioner.deprovision`). Nothing is imported here: each Lambda function
imports only the modules it runs (tests/integration/deploy/test_lazy_imports.py).
"""
