"""Word lists the seed draws from (Faker supplies person names, streets and phone numbers)."""

CITIES = [
    "Seattle", "Tacoma", "Everett", "Bellevue", "Renton", "Kent", "Auburn", "Olympia", "Bremerton", "Bellingham",
    "Spokane", "Yakima", "Kennewick", "Vancouver", "Wenatchee", "Lynnwood", "Redmond", "Kirkland", "Puyallup",
    "Lakewood", "Federal Way", "Marysville", "Shoreline", "Burien", "Issaquah", "Mount Vernon", "Longview",
    "Walla Walla", "Pullman", "Port Angeles",
]  # fmt: skip

EMPLOYER_SUFFIXES = [
    "Electric", "Electrical Contractors", "Power Systems", "Electric Co.", "Energy Services", "Lighting & Controls",
    "Electrical Services", "Industrial Electric", "Signal & Communications", "Solar Electric",
]  # fmt: skip

# (name suffix, location type) for stress-mode locations, "<City> <kind>".
LOCATION_KINDS = [
    ("Training Center", "training_site"),
    ("High School", "school"),
    ("Union Hall", "office"),
    ("Jobsite Trailer", "jobsite"),
    ("Electrical Supply", "vendor"),
    ("Community Center", "other"),
]

JOB_TITLES = [
    "inside wireman", "journeyman wireman", "apprentice wireman", "foreman", "general foreman",
    "residential wireman", "limited energy technician", "sound and communications technician", "cable splicer",
    "estimator", "project manager",
]  # fmt: skip

CONTACT_TITLES = ["Owner", "Office Manager", "Safety Director", "Business Agent", "Coordinator", "HR Manager"]

SESSION_TOPICS = [
    "Electrical safety and PPE", "OSHA 10 review", "Ohm's law", "Blueprint reading", "Conduit bending",
    "Hand and power tools", "Grounding and bonding", "NEC basics", "Math for electricians", "First Aid/CPR",
    "Motor controls", "Job site etiquette", "Resume and interview skills", "Fall protection",
]  # fmt: skip

# Credential name → issuing organization.
CREDENTIALS = {
    "OSHA 10": "OSHA Training Institute",
    "OSHA 30": "OSHA Training Institute",
    "First Aid/CPR": "American Red Cross",
    "Forklift": "National Safety Council",
    "Aerial Lift": "National Safety Council",
    "Confined Space": "National Safety Council",
    "Flagger": "Evergreen Safety Council",
    "NFPA 70E": "NFPA",
    "Fall Protection": "National Safety Council",
}

REFERRAL_SOURCES = [
    "high school counselor", "WorkSource", "friend or family", "union member", "community college",
    "veterans program", "job fair", "website",
]  # fmt: skip

SHIRT_SIZES = ["S", "M", "L", "XL", "2XL", "3XL"]
SHOE_SIZES = ["7", "8", "8.5", "9", "9.5", "10", "10.5", "11", "12", "13"]
RELATIONS = ["parent", "spouse", "sibling", "partner", "friend", "grandparent"]
TRADES = ["inside wireman", "limited energy", "residential wireman", "sound and communications"]

SALTING_NOTES = [
    "Crew lead open to a one-on-one; follow up after the job closes.",
    "Owner hostile to organizing; workers asked about wages at the supply house.",
    "Two journeymen signed cards last quarter.",
    "Prevailing-wage job downtown; good contact list from the jobsite visit.",
    "Management changed; tone more neutral than last year.",
]
