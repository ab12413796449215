"""Everything Airbyte: the API client (`client`), the HubSpot source and S3 destination
configurations it is sent (`spec`) and which streams a connection syncs (`streams`). Nothing is
imported here: each Lambda function imports only the modules it runs.
"""
