"""Emulator of Airbyte's public API (v1) for the local stack and tests.

    from local_stack.airbyte_emulator import AirbyteEmulator
    emu = AirbyteEmulator(port=0, s3_endpoint_url=..., hubspot_sandbox_url=...).start()
    airbyte_api.AirbyteAPI(server_url=emu.api_url,            # == emu.url + "/v1"
                           security=models.Security(bearer_auth=emu.api_token))
"""
from .server import AirbyteEmulator

__all__ = ["AirbyteEmulator"]
