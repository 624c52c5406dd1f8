"""Deterministic seed data that looks like a real org's people.

Names mix many languages (accents, ``ß``, ``ł``, CJK), apostrophes (``O'Brien``) and a few very long
double-barrelled names, because those are exactly what breaks naïve SOQL quoting, CSV exports and column
widths downstream.
"""

from __future__ import annotations

import random
import unicodedata
from functools import lru_cache

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
    "Christopher", "Nancy", "Daniel", "Lisa", "Matthew", "Betty", "Anthony", "Margaret", "Mark", "Sandra",
    "José", "María", "Zoë", "Chloé", "Renée", "André", "François", "Hélène", "Søren", "Bjørn", "Åsa",
    "Björn", "Jürgen", "Müge", "Łukasz", "Małgorzata", "Zbigniew", "Agnieszka", "Ingrid", "Sigríður",
    "Þór", "Dvořák", "Jiří", "Ľudmila", "Đorđe", "Nguyễn", "Thảo", "Özlem", "Çağrı", "İbrahim", "Şebnem",
    "Aoife", "Siobhán", "Niamh", "Seán", "Pádraig", "Oluwaseun", "Chidi", "Ngozi", "Kwame", "Amara",
    "Priya", "Arjun", "Ananya", "Rohan", "Wei", "Mei", "Hiroshi", "Yuki", "Min-jun", "Seo-yeon",
    "Ahmed", "Fatima", "Omar", "Layla", "Yusuf", "Mateo", "Sofía", "Valentina", "Joaquín", "Inês",
    "Jean-Luc", "Marie-Claire", "Anne-Sophie", "D'Arcy", "Mary-Kate", "Tomás", "Ólafur", "Kateřina",
    "翔太", "さくら", "Александр", "Ольга", "Δημήτρης", "Ελένη",
)

LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "O'Brien", "O'Connor", "D'Angelo", "O'Neill", "McDonald", "MacLeod", "Ní Bhriain", "Ó Súilleabháin",
    "Müller", "Schröder", "Weiß", "Groß", "Kowalski", "Wiśniewski", "Łęcki", "Nowak", "Dvořáková",
    "Novák", "Jørgensen", "Ødegård", "Åberg", "Lindqvist", "Järvinen", "Nguyễn", "Trần", "Lê", "Phạm",
    "Yılmaz", "Öztürk", "Çelik", "Şahin", "García Márquez", "Fernández", "Núñez", "Peña", "Gonçalves",
    "van der Berg", "de la Cruz", "von Neumann", "da Silva", "Dubois", "Lefèvre", "Bouchard", "Côté",
    "Okafor", "Adeyemi", "Mensah", "Nakamura", "Tanaka", "Kim", "Park", "Chen", "Wang", "Zhang",
    "Patel", "Singh", "Sharma", "Iyer", "Haddad", "Al-Sayed", "Khan", "Cohen", "Levi", "Rossi", "Esposito",
    "Wolfeschlegelsteinhausenbergerdorff", "Featherstonehaugh-Cholmondeley", "Vanderhoeven-Oppenheimer-Smythe",
    "山田", "佐藤", "Иванов", "Смирнова", "Παπαδόπουλος",
)

TITLES = (
    "Account Executive", "Sales Development Representative", "Senior Account Manager", "Sales Director",
    "VP, Sales", "Customer Success Manager", "Support Engineer", "Senior Support Engineer", "Solutions Architect",
    "Marketing Manager", "Product Marketing Manager", "Demand Generation Specialist", "Software Engineer",
    "Senior Software Engineer", "Engineering Manager", "Product Manager", "Business Analyst", "Data Analyst",
    "Salesforce Administrator", "IT Operations Lead", "HR Business Partner", "Recruiter", "Controller",
    "Financial Analyst", "Chief Executive Officer", "Chief Operating Officer", "Office Manager",
    "Directrice commerciale", "Vertriebsleiter", "Gerente de Cuentas", "Responsable Marketing & Communication",
)

DEPARTMENTS = (
    "Sales", "Sales Operations", "Customer Success", "Support", "Marketing", "Engineering", "Product",
    "Finance", "Human Resources", "IT", "Legal", "Operations", "Professional Services", "R&D",
)

CITIES = (
    ("San Francisco", "United States", "America/Los_Angeles", "en_US", "en_US"),
    ("New York", "United States", "America/New_York", "en_US", "en_US"),
    ("Chicago", "United States", "America/Chicago", "en_US", "en_US"),
    ("Denver", "United States", "America/Denver", "en_US", "en_US"),
    ("Toronto", "Canada", "America/New_York", "en_CA", "en_US"),
    ("Montréal", "Canada", "America/New_York", "fr_CA", "fr"),
    ("London", "United Kingdom", "Europe/London", "en_GB", "en_GB"),
    ("Dublin", "Ireland", "Europe/London", "en_IE", "en_US"),
    ("Paris", "France", "Europe/Paris", "fr_FR", "fr"),
    ("München", "Germany", "Europe/Berlin", "de_DE", "de"),
    ("Zürich", "Switzerland", "Europe/Berlin", "de_CH", "de"),
    ("Kraków", "Poland", "Europe/Warsaw", "pl_PL", "pl"),
    ("København", "Denmark", "Europe/Berlin", "da_DK", "da"),
    ("Stockholm", "Sweden", "Europe/Berlin", "sv_SE", "sv"),
    ("Helsinki", "Finland", "Europe/Helsinki", "fi_FI", "fi"),
    ("Madrid", "Spain", "Europe/Paris", "es_ES", "es"),
    ("Ciudad de México", "Mexico", "America/Chicago", "es_MX", "es"),
    ("São Paulo", "Brazil", "America/Sao_Paulo", "pt_BR", "pt_BR"),
    ("İstanbul", "Türkiye", "Europe/Moscow", "tr_TR", "en_US"),
    ("Dubai", "United Arab Emirates", "Asia/Dubai", "en_US", "en_US"),
    ("Bengaluru", "India", "Asia/Kolkata", "en_IN", "en_US"),
    ("Hà Nội", "Vietnam", "Asia/Shanghai", "vi_VN", "en_US"),
    ("Shanghai", "China", "Asia/Shanghai", "zh_CN", "zh_CN"),
    ("東京", "Japan", "Asia/Tokyo", "ja_JP", "ja"),
    ("Seoul", "South Korea", "Asia/Tokyo", "ko_KR", "ko"),
    ("Sydney", "Australia", "Australia/Sydney", "en_AU", "en_US"),
    ("Auckland", "New Zealand", "Pacific/Auckland", "en_US", "en_US"),
)

DOMAINS = ("example.com", "example.org", "acme.example", "globex.example", "initech.example")


@lru_cache(maxsize=4096)
def ascii_slug(text: str) -> str:
    """Lower-case ASCII for usernames: accents stripped, spaces and odd characters dropped, apostrophes kept."""
    folded = unicodedata.normalize("NFKD", text.replace("ß", "ss").replace("ł", "l").replace("Ł", "L")
                                   .replace("ø", "o").replace("Ø", "O").replace("đ", "d").replace("Đ", "D")
                                   .replace("þ", "th").replace("Þ", "Th").replace("ı", "i"))
    out = "".join(ch for ch in folded if ch.isascii() and (ch.isalnum() or ch in "'-"))
    return out.lower()


def people(rng: random.Random, count: int):
    """Yield ``(n, fields)`` for generated users 1..count; ``fields`` is a tuple in :data:`PERSON_FIELDS`
    order. Unique Username/Email/Nickname by construction (they carry ``n``). Tuned for 100,000 users."""
    r = rng.random
    firsts, lasts, titles, depts, cities = FIRST_NAMES, LAST_NAMES, TITLES, DEPARTMENTS, CITIES
    nf, nl, nt, nd, nc, ndom = len(firsts), len(lasts), len(titles), len(depts), len(cities), len(DOMAINS)
    pairs: dict[tuple[int, int], tuple[str, str, str]] = {}
    for n in range(1, count + 1):
        fi, li = int(r() * nf), int(r() * nl)
        first, last = firsts[fi], lasts[li]
        city, country, tz, locale, language = cities[int(r() * nc)]
        names = pairs.get((fi, li))
        if names is None:
            first_slug = ascii_slug(first) or "user"
            last_slug = ascii_slug(last) or "person"
            local = f"{first_slug}.{last_slug}"[:40]
            names = pairs[fi, li] = (local, (first_slug[:1] + last_slug.replace("'", ""))[:8], local[:28] + ".")
        local, alias, nick = names
        email = f"{local}{n}@{DOMAINS[n % ndom]}"
        yield n, (first, last, email, email, alias, f"{nick}{n}", titles[int(r() * nt)],
                  depts[int(r() * nd)], city, country, tz, locale, language, f"+1 415 555 {n % 10000:04d}",
                  f"E{n:07d}", r() >= 0.07)


PERSON_FIELDS = ("FirstName", "LastName", "Email", "Username", "Alias", "CommunityNickname", "Title", "Department",
                 "City", "Country", "TimeZoneSidKey", "LocaleSidKey", "LanguageLocaleKey", "Phone", "EmployeeNumber",
                 "IsActive")
