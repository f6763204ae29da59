"""Synthetic persons for the demo feeds: names, birth dates, addresses, phones, relatives.

Every value is drawn from in-code word lists with one ``random.Random`` so the same seed gives the
same people. The lists are invented for this project; family names avoid clinical eponyms and words
that occur in the clinical vocabulary of the notes (so a leak check on family names is meaningful),
and are at least five letters long: a leak check that searches the raw bytes of a compressed database
for short strings finds four-letter ones by chance.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from catalog.cli.synth.population import draw_age

REFERENCE_DATE = date(2025, 6, 30)
"""The synthetic "today": ages and encounter dates are computed against it, never the wall clock."""

GIVEN_MALE: tuple[str, ...] = (
    "James", "Robert", "Michael", "David", "William", "Richard", "Joseph", "Thomas", "Charles",
    "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Andrew", "Joshua",
    "Kenneth", "Kevin", "Brian", "Timothy", "Ronald", "Jason", "Jeffrey", "Ryan", "Jacob", "Gary",
    "Nicholas", "Eric", "Jonathan", "Stephen", "Raymond", "Gregory", "Benjamin", "Samuel", "Patrick",
    "Alexander", "Dennis", "Tyler", "Aaron", "Jose", "Adam", "Nathan", "Henry", "Zachary", "Douglas",
    "Peter", "Kyle", "Noah", "Ethan", "Jeremy", "Walter", "Christian", "Keith", "Roger", "Terry",
    "Austin", "Sean", "Gerald", "Carl", "Harold", "Dylan", "Arthur", "Lawrence", "Jordan", "Jesse",
    "Bryan", "Bruce", "Gabriel", "Logan", "Alan", "Juan", "Albert", "Willie", "Elijah", "Wayne",
    "Randy", "Vincent", "Mason", "Roy", "Ralph", "Bobby", "Russell", "Bradley", "Philip", "Eugene",
    "Malik", "Tariq", "Hiroshi", "Wei", "Rajesh", "Mateo", "Diego", "Olufemi", "Sergei", "Luca",
    "Andre", "Jamal", "Ahmed", "Omar", "Kwame", "Chidi", "Tomasz", "Nikolai", "Emeka", "Rafael",
)
GIVEN_FEMALE: tuple[str, ...] = (
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah",
    "Karen", "Lisa", "Nancy", "Betty", "Sandra", "Margaret", "Ashley", "Kimberly", "Emily", "Donna",
    "Michelle", "Carol", "Amanda", "Melissa", "Deborah", "Stephanie", "Dorothy", "Rebecca", "Sharon",
    "Laura", "Cynthia", "Amy", "Kathleen", "Angela", "Shirley", "Brenda", "Emma", "Anna", "Pamela",
    "Nicole", "Samantha", "Katherine", "Christine", "Helen", "Debra", "Rachel", "Carolyn", "Janet",
    "Maria", "Catherine", "Heather", "Diane", "Olivia", "Julie", "Joyce", "Victoria", "Ruth",
    "Virginia", "Lauren", "Kelly", "Christina", "Joan", "Evelyn", "Judith", "Andrea", "Hannah",
    "Megan", "Cheryl", "Jacqueline", "Martha", "Madison", "Teresa", "Gloria", "Sara", "Janice",
    "Ann", "Kathryn", "Abigail", "Sophia", "Frances", "Jean", "Alice", "Judy", "Isabella", "Julia",
    "Grace", "Amber", "Denise", "Danielle", "Marilyn", "Beverly", "Charlotte", "Natalie", "Theresa",
    "Priya", "Mei", "Aiko", "Fatima", "Amara", "Ngozi", "Lucia", "Ines", "Yesenia", "Zofia",
    "Ingrid", "Leilani", "Chiara", "Aaliyah", "Soledad", "Renata", "Zoë", "Agnieszka", "Siobhan",
)
FAMILY: tuple[str, ...] = (
    "Johnson", "Williams", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Thompson", "Harris", "Sanchez", "Ramirez", "Lewis", "Robinson", "Walker", "Nguyen",
    "Torres", "Rivera", "Flores", "Mitchell", "Roberts", "Carter", "Phillips", "Evans", "Campbell",
    "Parker", "Edwards", "Collins", "Stewart", "Morris", "Murillo", "Rogers", 
    "Morgan", "Cooper", "Peterson", "Ramos", "Kelly", "Howard", "Richardson", 
    "Castillo", "Gutierrez", "Ortiz", "Jenkins", "Perry", "Russell", "Sullivan", "Foster",
    "Gonzales", "Bryant", "Alexander", "Griffin", "Hayes", "Myers", "Hamilton",
    "Petrov", "Kowalski", "Okafor", "Adeyemi", "Nakamura", "Takahashi", "Huang",
    "Zhang", "Patel", "Chatterjee", "Haddad", "Nasser", "Mansour", "Schneider",
    "Müller", "Fischer", "Becker", "Novak", "Horvath", "Lindqvist", "Johansson", "O'Brien",
    "O'Connor", "McAllister", "Fitzgerald", "Delacroix", "Moreau", "Lefebvre", "Rossi", "Esposito",
    "Romano", "Ferreira", "Oliveira", "Pereira", "Castro", "Vargas", "Mendoza", "Guerrero",
    "Salazar", "Delgado", "Quintero", "Villanueva", "Abernathy", "Blackwood", "Pemberton",
    "Whitfield", "Thornton", "Kingsley", "Holloway", "Prescott", "Calloway", "Hargrove",
    "Ashworth", "Kaminski", "Wojcik", "Dubois", "Okonkwo", "Mwangi", "Achebe", "Kuznetsov",
    "Ivanova", "Yamamoto", "Watanabe", "Kimura", "Srinivasan", "Raghavan", "Bhattacharya",
    "Oyelaran", "Figueroa", "Santiago", "Valdez", "Cabrera", "Navarro", "Ibarra", "García-Lugo",
    "Smith-Okoro", "Van der Berg", "MacLeod", "Sorensen", "Halvorsen", "Ostrowski", "Zielinski",
)
MIDDLE_INITIALS = "ABCDEFGHJKLMNPRSTW"

STREET_NAMES: tuple[str, ...] = (
    "Oak", "Maple", "Cedar", "Pine", "Elm", "Walnut", "Chestnut", "Birch", "Willow", "Magnolia",
    "Sycamore", "Hawthorn", "Juniper", "Laurel", "Poplar", "Spruce", "Aspen", "Linden", "Cypress",
    "Dogwood", "Lakeview", "Riverbend", "Hillcrest", "Fairview", "Sunset", "Meadowbrook",
    "Brookside", "Ridgeway", "Glenwood", "Highland", "Orchard", "Prospect", "Summit", "Harbor",
    "Union", "Liberty", "Franklin", "Jefferson", "Madison", "Lincoln", "Washington", "Monroe",
    "Church", "Mill", "Bridge", "Market", "Spring", "Water", "Front", "Center", "School",
    "Academy", "Chapel", "Garden", "Quarry", "Foundry", "Canal", "Ferry", "Beacon", "Granite",
)
STREET_TYPES: tuple[str, ...] = (
    "Street", "Avenue", "Road", "Lane", "Drive", "Court", "Place", "Boulevard", "Terrace", "Way",
)

CITIES: tuple[tuple[str, str, str, str], ...] = (
    # (city, state, area code, ZIP prefix of 3 digits) -- a fictional metro area and its surroundings
    ("Harborview", "MA", "617", "021"), ("Harborview", "MA", "857", "022"),
    ("Millbrook", "MA", "781", "018"), ("Eastfield", "MA", "508", "017"),
    ("Westbury", "MA", "978", "014"), ("Cranston Falls", "RI", "401", "029"),
    ("Port Ellis", "NH", "603", "038"), ("Greenvale", "CT", "860", "061"),
    ("Northgate", "MA", "413", "010"), ("Ashford Hills", "MA", "339", "019"),
)
SPARSE_PLACES: tuple[tuple[str, str, str, str], ...] = (
    # 3-digit ZIP prefixes with fewer than 20,000 residents (Safe Harbor generalises these to 000)
    ("Colebrook", "NH", "603", "036"), ("Island Falls", "ME", "207", "059"),
    ("Bronx Annex", "NY", "718", "102"), ("Washington Annex", "DC", "202", "203"),
    ("Cook", "MN", "218", "556"), ("Valentine", "NE", "402", "692"), ("Dalhart", "TX", "806", "790"),
    ("Rock Springs", "WY", "307", "821"), ("Pinedale", "WY", "307", "823"),
    ("Rawlins", "WY", "307", "830"), ("Sheridan", "WY", "307", "831"),
    ("Gallup", "NM", "505", "878"), ("Socorro", "NM", "575", "879"),
    ("Tucumcari", "NM", "575", "884"), ("Ely", "NV", "775", "890"), ("Winnemucca", "NV", "775", "893"),
)

RELATIONS: tuple[tuple[str, str, str], ...] = (
    # (HL7 table 0063 code, text, how a note names the relative)
    ("SPO", "Spouse", "wife"), ("SPO", "Spouse", "husband"), ("CHD", "Child", "daughter"),
    ("CHD", "Child", "son"), ("SIB", "Sibling", "sister"), ("SIB", "Sibling", "brother"),
    ("PAR", "Parent", "mother"), ("FND", "Friend", "friend"),
)


@dataclass(frozen=True)
class Relative:
    given: str
    family: str
    relation_code: str
    relation_text: str
    note_word: str
    phone: str

    @property
    def full_name(self) -> str:
        return f"{self.given} {self.family}"


@dataclass(frozen=True)
class Person:
    key: int
    given: str
    middle_initial: str
    family: str
    birth_date: date
    sex: str  # "M" | "F"
    street: str  # e.g. "123 Oak Street"
    city: str
    state: str
    zip: str
    phone: str  # NANP digits written "617-555-0143"
    ssn: str | None
    relative: Relative

    @property
    def full_name(self) -> str:
        return f"{self.given} {self.family}"

    @property
    def age(self) -> int:
        years = REFERENCE_DATE.year - self.birth_date.year
        before_birthday = (REFERENCE_DATE.month, REFERENCE_DATE.day) < (
            self.birth_date.month,
            self.birth_date.day,
        )
        return years - 1 if before_birthday else years


def phone_variants(phone: str) -> tuple[str, str, str]:
    """The three ways a phone is written in the feeds: ``617-555-0143``, ``(617)555-0143``,
    ``(617) 555-0143``."""
    area, exchange, line = phone.split("-")
    return phone, f"({area}){exchange}-{line}", f"({area}) {exchange}-{line}"


def _phone(rng: random.Random, area: str) -> str:
    exchange = rng.randint(201, 989)
    while exchange % 100 == 11:  # N11 codes are not exchanges
        exchange = rng.randint(201, 989)
    return f"{area}-{exchange}-{rng.randint(0, 9999):04d}"


def _ssn(rng: random.Random) -> str:
    area = rng.randint(100, 665)  # never 000, 666 or 9xx
    return f"{area:03d}-{rng.randint(10, 99):02d}-{rng.randint(1000, 9999):04d}"


def _birth_date(rng: random.Random, elderly: bool) -> date:
    age = rng.randint(90, 97) if elderly else min(draw_age(rng), 89)
    start = date(REFERENCE_DATE.year - age - 1, REFERENCE_DATE.month, 1) + timedelta(days=31)
    return start + timedelta(days=rng.randint(0, 330))


def make_people(rng: random.Random, count: int) -> list[Person]:
    """``count`` distinct persons; name + birth date + sex are unique so linkage is testable."""
    people: list[Person] = []
    seen: set[tuple[str, str, date]] = set()
    elderly_slots = {rng.randrange(count) for _ in range(max(3, count // 15))} if count else set()
    streets_used: set[str] = set()
    phones_used: set[str] = set()
    for key in range(count):
        while True:
            sex = rng.choice("MF")
            given = rng.choice(GIVEN_MALE if sex == "M" else GIVEN_FEMALE)
            family = rng.choice(FAMILY)
            born = _birth_date(rng, key in elderly_slots)
            if (given, family, born) not in seen:
                seen.add((given, family, born))
                break
        sparse = rng.random() < 0.15
        city, state, area, prefix = rng.choice(SPARSE_PLACES if sparse else CITIES)
        while True:
            street = f"{rng.randint(2, 9899)} {rng.choice(STREET_NAMES)} {rng.choice(STREET_TYPES)}"
            if street not in streets_used:
                streets_used.add(street)
                break
        phone = _unique_phone(rng, area, phones_used)
        relative = _make_relative(rng, sex, given, family, area, phones_used)
        people.append(
            Person(
                key=key,
                given=given,
                middle_initial=rng.choice(MIDDLE_INITIALS),
                family=family,
                birth_date=born,
                sex=sex,
                street=street,
                city=city,
                state=state,
                zip=f"{prefix}{rng.randint(1, 99):02d}",
                phone=phone,
                ssn=_ssn(rng) if rng.random() < 0.4 else None,
                relative=relative,
            )
        )
    return people


def _make_relative(rng: random.Random, sex: str, given: str, family: str, area: str, phones_used: set[str]) -> Relative:
    """The person's next of kin: a given name other than theirs, often their family name, a phone of their own."""
    code, text, word = rng.choice(RELATIONS)
    if code == "SPO":
        word = "wife" if sex == "M" else "husband"
    if word in ("wife", "mother", "daughter", "sister"):
        pool = GIVEN_FEMALE
    elif word == "friend":
        pool = GIVEN_FEMALE + GIVEN_MALE
    else:
        pool = GIVEN_MALE
    rel_given = rng.choice([g for g in pool if g != given])
    same_family = code in ("SPO", "CHD", "SIB") and rng.random() < 0.75
    rel_family = family if same_family else rng.choice(FAMILY)
    return Relative(
        given=rel_given,
        family=rel_family,
        relation_code=code,
        relation_text=text,
        note_word=word,
        phone=_unique_phone(rng, area, phones_used),
    )


def _unique_phone(rng: random.Random, area: str, used: set[str]) -> str:
    while True:
        phone = _phone(rng, area)
        if phone not in used:
            used.add(phone)
            return phone
