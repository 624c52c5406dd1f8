"""The only code that speaks Salesforce: OAuth login, the REST client, the connector the sync engine uses."""
