"""The fields the local org serves for User and Profile, and their ``describe`` output.

Records are stored as plain lists in the order of :data:`USER_FIELDS` / :data:`PROFILE_FIELDS` (compact
enough for 100,000 users); :class:`SObjectType` maps names to positions, case-insensitively as SOQL does.
Lengths and types follow Salesforce's User field reference; picklists carry the values the sync sample
and ordinary clients use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TIME_ZONES: dict[str, str] = {
    "Pacific/Kiritimati": "(GMT+14:00) Line Islands Time (Pacific/Kiritimati)",
    "Pacific/Auckland": "(GMT+13:00) New Zealand Daylight Time (Pacific/Auckland)",
    "Australia/Sydney": "(GMT+11:00) Australian Eastern Daylight Time (Australia/Sydney)",
    "Asia/Tokyo": "(GMT+09:00) Japan Standard Time (Asia/Tokyo)",
    "Asia/Shanghai": "(GMT+08:00) China Standard Time (Asia/Shanghai)",
    "Asia/Kolkata": "(GMT+05:30) India Standard Time (Asia/Kolkata)",
    "Asia/Dubai": "(GMT+04:00) Gulf Standard Time (Asia/Dubai)",
    "Europe/Moscow": "(GMT+03:00) Moscow Standard Time (Europe/Moscow)",
    "Europe/Helsinki": "(GMT+02:00) Eastern European Standard Time (Europe/Helsinki)",
    "Europe/Berlin": "(GMT+01:00) Central European Standard Time (Europe/Berlin)",
    "Europe/Paris": "(GMT+01:00) Central European Standard Time (Europe/Paris)",
    "Europe/Warsaw": "(GMT+01:00) Central European Standard Time (Europe/Warsaw)",
    "Europe/London": "(GMT+00:00) Greenwich Mean Time (Europe/London)",
    "GMT": "(GMT+00:00) Greenwich Mean Time (GMT)",
    "America/Sao_Paulo": "(GMT-03:00) Brasilia Standard Time (America/Sao_Paulo)",
    "America/New_York": "(GMT-05:00) Eastern Standard Time (America/New_York)",
    "America/Chicago": "(GMT-06:00) Central Standard Time (America/Chicago)",
    "America/Denver": "(GMT-07:00) Mountain Standard Time (America/Denver)",
    "America/Los_Angeles": "(GMT-08:00) Pacific Standard Time (America/Los_Angeles)",
    "America/Anchorage": "(GMT-09:00) Alaska Standard Time (America/Anchorage)",
    "Pacific/Honolulu": "(GMT-10:00) Hawaii-Aleutian Standard Time (Pacific/Honolulu)",
}

LOCALES: dict[str, str] = {
    "en_US": "English (United States)", "en_GB": "English (United Kingdom)", "en_CA": "English (Canada)",
    "en_AU": "English (Australia)", "en_IE": "English (Ireland)", "en_IN": "English (India)",
    "de_DE": "German (Germany)", "de_AT": "German (Austria)", "de_CH": "German (Switzerland)",
    "fr_FR": "French (France)", "fr_CA": "French (Canada)", "es_ES": "Spanish (Spain)", "es_MX": "Spanish (Mexico)",
    "it_IT": "Italian (Italy)", "nl_NL": "Dutch (Netherlands)", "pl_PL": "Polish (Poland)",
    "pt_BR": "Portuguese (Brazil)", "sv_SE": "Swedish (Sweden)", "da_DK": "Danish (Denmark)",
    "nb_NO": "Norwegian (Norway)", "fi_FI": "Finnish (Finland)", "ja_JP": "Japanese (Japan)",
    "zh_CN": "Chinese (China)", "ko_KR": "Korean (South Korea)", "vi_VN": "Vietnamese (Vietnam)",
    "tr_TR": "Turkish (Türkiye)", "ga_IE": "Irish (Ireland)",
}

LANGUAGES: dict[str, str] = {
    "en_US": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian", "nl_NL": "Dutch",
    "pl": "Polish", "pt_BR": "Portuguese (Brazil)", "sv": "Swedish", "da": "Danish", "no": "Norwegian",
    "fi": "Finnish", "ja": "Japanese", "zh_CN": "Chinese (Simplified)", "ko": "Korean", "en_GB": "English (UK)",
}

ENCODINGS: dict[str, str] = {
    "UTF-8": "Unicode (UTF-8)", "ISO-8859-1": "General US & Western Europe (ISO-8859-1, ISO-LATIN-1)",
    "Shift_JIS": "Japanese (Shift-JIS)", "ISO-2022-JP": "Japanese (JIS)", "EUC-JP": "Japanese (EUC)",
    "ks_c_5601-1987": "Korean (ks_c_5601-1987)", "Big5": "Traditional Chinese (Big5)", "GB2312": "Simplified Chinese (GB2312)",
}

USER_TYPES: dict[str, str] = {
    "Standard": "Standard", "CsnOnly": "Chatter Free", "AutomatedProcess": "Automated Process",
    "CloudIntegrationUser": "Cloud Integration User",
}


@dataclass(frozen=True, eq=False)
class Field:
    """One field as ``describe`` reports it; the write rules read the same flags."""

    name: str
    type: str
    label: str
    length: int = 0
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    defaulted: bool = False           # defaultedOnCreate
    unique: bool = False
    picklist: dict[str, str] | None = None
    reference_to: tuple[str, ...] = ()
    relationship: str | None = None
    filterable: bool = True
    sortable: bool = True

    @property
    def required_on_create(self) -> bool:
        return self.createable and not self.nillable and not self.defaulted and self.type != "boolean"

    @property
    def is_text(self) -> bool:
        return self.type in ("string", "email", "phone", "picklist", "textarea", "url", "id", "reference")

    def describe(self) -> dict:
        """The field's entry in ``fields[]`` of ``sobjects/X/describe``."""
        soap = {"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "datetime": "xsd:dateTime",
                "int": "xsd:int", "date": "xsd:date"}.get(self.type, "xsd:string")
        text = self.is_text
        values = [{"active": True, "defaultValue": False, "label": label, "validFor": None, "value": value}
                  for value, label in (self.picklist or {}).items()]
        return {
            "aggregatable": self.type not in ("textarea", "boolean"), "aiPredictionField": False, "autoNumber": False,
            "byteLength": self.length * 3 if text and self.type not in ("id", "reference") else self.length,
            "calculated": self.name == "Name", "calculatedFormula": None, "cascadeDelete": False,
            "caseSensitive": False, "compoundFieldName": None, "controllerName": None,
            "createable": self.createable, "custom": False, "defaultValue": None if self.type != "boolean" else (self.name == "IsActive"),
            "defaultValueFormula": None, "defaultedOnCreate": self.defaulted or self.type == "boolean",
            "dependentPicklist": False, "deprecatedAndHidden": False, "digits": 0,
            "displayLocationInDecimal": False, "encrypted": False, "externalId": False, "extraTypeInfo": None,
            "filterable": self.filterable, "filteredLookupInfo": None, "formulaTreatNullNumberAsZero": False,
            "groupable": self.type not in ("textarea", "datetime"), "highScaleNumber": False, "htmlFormatted": False,
            "idLookup": self.name in ("Id", "Username", "CommunityNickname", "Email"),
            "inlineHelpText": None, "label": self.label, "length": self.length if text else 0, "mask": None,
            "maskType": None, "name": self.name, "nameField": self.name == "Name", "namePointing": False,
            "nillable": self.nillable, "permissionable": self.nillable and self.updateable,
            "picklistValues": values, "polymorphicForeignKey": False, "precision": 0, "queryByDistance": False,
            "referenceTargetField": None, "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship, "relationshipOrder": None, "restrictedDelete": False,
            "restrictedPicklist": self.picklist is not None, "scale": 0, "searchPrefilterable": False,
            "soapType": soap, "sortable": self.sortable, "type": self.type, "unique": self.unique,
            "updateable": self.updateable, "writeRequiresMasterRead": False,
        }


def _ro(name: str, type_: str, label: str, length: int = 0, **kw) -> Field:
    """A read-only (system-maintained) field."""
    return Field(name, type_, label, length, createable=False, updateable=False, **kw)


USER_FIELDS: tuple[Field, ...] = (
    _ro("Id", "id", "User ID", 18, nillable=False, defaulted=True),
    Field("Username", "string", "Username", 80, nillable=False, unique=True),
    Field("LastName", "string", "Last Name", 80, nillable=False),
    Field("FirstName", "string", "First Name", 40),
    _ro("Name", "string", "Full Name", 121, nillable=False),
    Field("CompanyName", "string", "Company Name", 80),
    Field("Division", "string", "Division", 80),
    Field("Department", "string", "Department", 80),
    Field("Title", "string", "Title", 80),
    Field("City", "string", "City", 40),
    Field("Country", "string", "Country", 80),
    Field("Email", "email", "Email", 128, nillable=False),
    Field("Phone", "phone", "Phone", 40),
    Field("MobilePhone", "phone", "Mobile", 40),
    Field("Alias", "string", "Alias", 8, nillable=False),
    Field("CommunityNickname", "string", "Nickname", 40, nillable=False, defaulted=True, unique=True),
    Field("IsActive", "boolean", "Active", nillable=False, defaulted=True, filterable=True),
    Field("TimeZoneSidKey", "picklist", "Time Zone", 40, nillable=False, picklist=TIME_ZONES),
    Field("UserRoleId", "reference", "Role ID", 18, reference_to=("UserRole",), relationship="UserRole"),
    Field("LocaleSidKey", "picklist", "Locale", 40, nillable=False, picklist=LOCALES),
    Field("EmailEncodingKey", "picklist", "Email Encoding", 40, nillable=False, picklist=ENCODINGS),
    Field("ProfileId", "reference", "Profile ID", 18, nillable=False, reference_to=("Profile",), relationship="Profile"),
    _ro("UserType", "picklist", "User Type", 40, defaulted=True, picklist=USER_TYPES),
    Field("LanguageLocaleKey", "picklist", "Language", 40, nillable=False, picklist=LANGUAGES),
    Field("EmployeeNumber", "string", "Employee Number", 20),
    Field("FederationIdentifier", "string", "SAML Federation ID", 512),
    Field("ManagerId", "reference", "Manager ID", 18, reference_to=("User",), relationship="Manager"),
    Field("AboutMe", "textarea", "About Me", 1000, filterable=False, sortable=False),
    _ro("LastLoginDate", "datetime", "Last Login"),
    _ro("CreatedDate", "datetime", "Created Date", nillable=False, defaulted=True),
    _ro("CreatedById", "reference", "Created By ID", 18, nillable=False, defaulted=True,
        reference_to=("User",), relationship="CreatedBy"),
    _ro("LastModifiedDate", "datetime", "Last Modified Date", nillable=False, defaulted=True),
    _ro("LastModifiedById", "reference", "Last Modified By ID", 18, nillable=False, defaulted=True,
        reference_to=("User",), relationship="LastModifiedBy"),
    _ro("SystemModstamp", "datetime", "System Modstamp", nillable=False, defaulted=True),
)

PROFILE_FIELDS: tuple[Field, ...] = (
    _ro("Id", "id", "Profile ID", 18, nillable=False, defaulted=True),
    Field("Name", "string", "Name", 255, nillable=False),
    Field("UserLicenseId", "reference", "User License ID", 18, nillable=False, reference_to=("UserLicense",)),
    _ro("UserType", "picklist", "User Type", 40, defaulted=True, picklist=USER_TYPES),
    Field("Description", "string", "Description", 255),
    _ro("CreatedDate", "datetime", "Created Date", nillable=False, defaulted=True),
    _ro("CreatedById", "reference", "Created By ID", 18, nillable=False, defaulted=True, reference_to=("User",)),
    _ro("LastModifiedDate", "datetime", "Last Modified Date", nillable=False, defaulted=True),
    _ro("LastModifiedById", "reference", "Last Modified By ID", 18, nillable=False, defaulted=True, reference_to=("User",)),
    _ro("SystemModstamp", "datetime", "System Modstamp", nillable=False, defaulted=True),
)


@dataclass
class SObjectType:
    """An object's field list with name -> position look-ups (case-insensitive, like SOQL and the REST API)."""

    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: tuple[Field, ...]
    createable: bool
    updateable: bool
    index: dict[str, int] = field(init=False)
    by_lower: dict[str, Field] = field(init=False)

    def __post_init__(self) -> None:
        self.index = {f.name: i for i, f in enumerate(self.fields)}
        self.by_lower = {f.name.lower(): f for f in self.fields}

    def field(self, name: str) -> Field | None:
        return self.by_lower.get(name.lower())

    def pos(self, name: str) -> int:
        return self.index[name]

    def as_dict(self, row: list) -> dict:
        return {f.name: row[i] for i, f in enumerate(self.fields)}

    def urls(self, version: str) -> dict:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {"compactLayouts": f"{base}/describe/compactLayouts", "rowTemplate": f"{base}/{{ID}}",
                "approvalLayouts": f"{base}/describe/approvalLayouts", "describe": f"{base}/describe",
                "quickActions": f"{base}/quickActions", "layouts": f"{base}/describe/layouts", "sobject": base}

    def summary(self, version: str) -> dict:
        """The object's entry in the global describe (``sobjects/``)."""
        return {
            "activateable": False, "associateEntityType": None, "associateParentEntity": None,
            "createable": self.createable, "custom": False, "customSetting": False, "deepCloneable": False,
            "deletable": False, "deprecatedAndHidden": False, "feedEnabled": self.name == "User",
            "hasSubtypes": False, "isInterface": False, "isSubtype": False, "keyPrefix": self.key_prefix,
            "label": self.label, "labelPlural": self.label_plural, "layoutable": True, "mergeable": False,
            "mruEnabled": True, "name": self.name, "queryable": True, "replicateable": True, "retrieveable": True,
            "searchable": True, "triggerable": self.name == "User", "undeletable": False,
            "updateable": self.updateable, "urls": self.urls(version),
        }

    def describe(self, version: str) -> dict:
        """``sobjects/X/describe``: the summary plus fields and the keys newer API versions add."""
        out = self.summary(version)
        out.update({
            "actionOverrides": [], "childRelationships": [], "compactLayoutable": True, "fields": [
                f.describe() for f in self.fields], "listviewable": None, "lookupLayoutable": None,
            "namedLayoutInfos": [], "networkScopeFieldName": None,
            "recordTypeInfos": [], "searchLayoutable": True, "supportedScopes": [
                {"label": "All users", "name": "everything"}],
        })
        return out


USER = SObjectType("User", "User", "Users", "005", USER_FIELDS, createable=True, updateable=True)
PROFILE = SObjectType("Profile", "Profile", "Profiles", "00e", PROFILE_FIELDS, createable=False, updateable=False)
SOBJECTS: dict[str, SObjectType] = {"user": USER, "profile": PROFILE}
