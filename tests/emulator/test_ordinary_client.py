"""An ordinary Salesforce client library (simple-salesforce, unchanged) against the org over HTTPS."""

from __future__ import annotations

import httpx
import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceMalformedRequest


@pytest.fixture
def sf_org(live_org_factory, monkeypatch):
    org = live_org_factory(users=4500, tls=True)
    # requests prefers REQUESTS_CA_BUNDLE over a session's verify=; point it at the org's CA
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", org.ca_file)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    token = httpx.post(org.login_url, verify=org.verify(), data={
        "grant_type": "client_credentials", "client_id": org.client_id, "client_secret": org.client_secret}).json()
    sf = Salesforce(instance_url=token["instance_url"], session_id=token["access_token"], version="59.0")
    return org, sf, token


def test_simple_salesforce_queries_describes_creates_updates_and_gets(sf_org):
    org, sf, _ = sf_org
    result = sf.query_all("SELECT Id, Username, Email FROM User")
    assert result["totalSize"] == len(result["records"]) == len(org.org.users) == 4504
    assert sf.api_usage["api-usage"].total == org.org.api_max
    assert {f["name"] for f in sf.User.describe()["fields"]} >= {"Username", "Alias", "ProfileId"}
    profile = sf.query("SELECT Id FROM Profile WHERE Name = 'Standard User'")["records"][0]["Id"]
    body = {"Username": "zoe.darcy@example.com", "LastName": "D'Arcy", "FirstName": "Zoë",
            "Email": "zoe.darcy@example.com", "Alias": "zdarcy", "TimeZoneSidKey": "Europe/Paris",
            "LocaleSidKey": "fr_FR", "EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "fr", "ProfileId": profile}
    created = sf.User.create(body)
    assert created["success"] and org.org.user(created["id"])["Name"] == "Zoë D'Arcy"
    assert sf.User.update(created["id"], {"Title": "Checked"}) == 204
    assert sf.User.get(created["id"])["Title"] == "Checked"

    def error_code(call) -> str:
        with pytest.raises(SalesforceMalformedRequest) as err:
            call()
        return err.value.content[0]["errorCode"]
    assert error_code(lambda: sf.User.create({"LastName": "Incomplete"})) == "REQUIRED_FIELD_MISSING"
    assert error_code(lambda: sf.User.create({**body, "CommunityNickname": "other"})) == "DUPLICATE_USERNAME"
    assert error_code(lambda: sf.query("SELECT Id FROM User WHERE")) == "MALFORMED_QUERY"
    assert error_code(lambda: sf.User.delete(created["id"])) == "INVALID_TYPE_FOR_OPERATION"


def test_simple_salesforce_sees_a_bad_token_as_an_expired_session(sf_org):
    _, _, token = sf_org
    bad = Salesforce(instance_url=token["instance_url"], session_id="00Dbad!token", version="59.0")
    with pytest.raises(SalesforceExpiredSession) as err:
        bad.query("SELECT Id FROM User")
    assert err.value.content[0]["errorCode"] == "INVALID_SESSION_ID"
