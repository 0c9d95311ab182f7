"""Word lists the rule-based extractor and verifier share (pure data, no I/O).

Nationalities are matched through demonyms: a bio says "German", a record says "Germany" or
"Prussia (now Germany)". Each demonym maps to the country names that count as the same
nationality (historical states included, since the people span antiquity to today).
"""

from __future__ import annotations

DEMONYMS: dict[str, tuple[str, ...]] = {
    "Afghan": ("Afghanistan",),
    "Albanian": ("Albania",),
    "Algerian": ("Algeria",),
    "American": ("United States", "USA", "US", "America"),
    "Andalusian": ("Andalusia", "Spain"),
    "Argentine": ("Argentina",),
    "Argentinian": ("Argentina",),
    "Armenian": ("Armenia",),
    "Assyrian": ("Assyria",),
    "Athenian": ("Athens", "Greece"),
    "Australian": ("Australia",),
    "Austrian": ("Austria", "Austria-Hungary"),
    "Azerbaijani": ("Azerbaijan",),
    "Babylonian": ("Babylon",),
    "Bangladeshi": ("Bangladesh",),
    "Basque": ("Spain", "France"),
    "Belarusian": ("Belarus",),
    "Belgian": ("Belgium",),
    "Bengali": ("Bengal", "India", "Bangladesh"),
    "Bohemian": ("Bohemia", "Czech Republic"),
    "Bolivian": ("Bolivia",),
    "Bosnian": ("Bosnia",),
    "Brazilian": ("Brazil",),
    "British": ("United Kingdom", "UK", "Britain", "Great Britain", "England", "Scotland", "Wales", "Northern Ireland"),
    "Bulgarian": ("Bulgaria",),
    "Burmese": ("Burma", "Myanmar"),
    "Byzantine": ("Byzantine Empire",),
    "Cambodian": ("Cambodia",),
    "Canadian": ("Canada",),
    "Carthaginian": ("Carthage",),
    "Castilian": ("Castile", "Spain"),
    "Catalan": ("Catalonia", "Spain"),
    "Chilean": ("Chile",),
    "Chinese": ("China", "Taiwan", "Hong Kong"),
    "Colombian": ("Colombia",),
    "Congolese": ("Congo",),
    "Costa Rican": ("Costa Rica",),
    "Croatian": ("Croatia",),
    "Cuban": ("Cuba",),
    "Cypriot": ("Cyprus",),
    "Czech": ("Czech Republic", "Czechia", "Czechoslovakia", "Bohemia"),
    "Danish": ("Denmark",),
    "Dutch": ("Netherlands", "Holland"),
    "Ecuadorian": ("Ecuador",),
    "Egyptian": ("Egypt",),
    "English": ("England", "United Kingdom", "UK", "Britain"),
    "Estonian": ("Estonia",),
    "Ethiopian": ("Ethiopia",),
    "Filipino": ("Philippines",),
    "Finnish": ("Finland",),
    "Flemish": ("Flanders", "Belgium"),
    "Florentine": ("Florence", "Italy"),
    "Frankish": ("Francia",),
    "French": ("France",),
    "Georgian": ("Georgia",),
    "German": ("Germany", "Prussia", "West Germany", "East Germany", "Federal Republic of Germany"),
    "Ghanaian": ("Ghana",),
    "Greek": ("Greece",),
    "Guatemalan": ("Guatemala",),
    "Haitian": ("Haiti",),
    "Hungarian": ("Hungary", "Austria-Hungary"),
    "Icelandic": ("Iceland",),
    "Indian": ("India",),
    "Indonesian": ("Indonesia",),
    "Iranian": ("Iran", "Persia"),
    "Iraqi": ("Iraq",),
    "Irish": ("Ireland", "Northern Ireland"),
    "Israeli": ("Israel",),
    "Italian": ("Italy",),
    "Jamaican": ("Jamaica",),
    "Japanese": ("Japan",),
    "Javanese": ("Java", "Indonesia"),
    "Jordanian": ("Jordan",),
    "Kenyan": ("Kenya",),
    "Korean": ("Korea", "South Korea", "North Korea"),
    "Latvian": ("Latvia",),
    "Lebanese": ("Lebanon",),
    "Liberian": ("Liberia",),
    "Libyan": ("Libya",),
    "Lithuanian": ("Lithuania",),
    "Luxembourgish": ("Luxembourg",),
    "Macedonian": ("Macedonia",),
    "Malaysian": ("Malaysia",),
    "Malian": ("Mali",),
    "Maltese": ("Malta",),
    "Mexican": ("Mexico",),
    "Mongol": ("Mongolia", "Mongol Empire"),
    "Mongolian": ("Mongolia",),
    "Moroccan": ("Morocco",),
    "Mughal": ("Mughal Empire", "India"),
    "Nepali": ("Nepal",),
    "Nepalese": ("Nepal",),
    "New Zealand": ("New Zealand",),
    "Nicaraguan": ("Nicaragua",),
    "Nigerian": ("Nigeria",),
    "Norse": ("Norway", "Scandinavia"),
    "Norwegian": ("Norway",),
    "Ottoman": ("Ottoman Empire", "Turkey"),
    "Pakistani": ("Pakistan",),
    "Palestinian": ("Palestine",),
    "Panamanian": ("Panama",),
    "Paraguayan": ("Paraguay",),
    "Persian": ("Persia", "Iran"),
    "Peruvian": ("Peru",),
    "Polish": ("Poland",),
    "Portuguese": ("Portugal",),
    "Prussian": ("Prussia", "Germany"),
    "Puerto Rican": ("Puerto Rico",),
    "Roman": ("Roman Empire", "Rome", "Italy"),
    "Romanian": ("Romania",),
    "Russian": ("Russia", "Russian Empire", "Soviet Union", "USSR"),
    "Saudi": ("Saudi Arabia",),
    "Sicilian": ("Sicily", "Italy"),
    "Mauryan": ("Maurya Empire", "India"),
    "Scottish": ("Scotland", "United Kingdom", "UK"),
    "Senegalese": ("Senegal",),
    "Serbian": ("Serbia", "Yugoslavia"),
    "Singaporean": ("Singapore",),
    "Slovak": ("Slovakia", "Czechoslovakia"),
    "Slovenian": ("Slovenia",),
    "Somali": ("Somalia",),
    "South African": ("South Africa",),
    "Soviet": ("Soviet Union", "USSR", "Russia"),
    "Spanish": ("Spain",),
    "Sri Lankan": ("Sri Lanka", "Ceylon"),
    "Sudanese": ("Sudan",),
    "Sumerian": ("Sumer",),
    "Swedish": ("Sweden",),
    "Swiss": ("Switzerland",),
    "Syrian": ("Syria",),
    "Taiwanese": ("Taiwan",),
    "Tanzanian": ("Tanzania",),
    "Thai": ("Thailand",),
    "Tibetan": ("Tibet",),
    "Tunisian": ("Tunisia",),
    "Turkish": ("Turkey", "Ottoman Empire"),
    "Ugandan": ("Uganda",),
    "Ukrainian": ("Ukraine",),
    "Uruguayan": ("Uruguay",),
    "Uzbek": ("Uzbekistan",),
    "Venetian": ("Venice", "Italy"),
    "Venezuelan": ("Venezuela",),
    "Vietnamese": ("Vietnam",),
    "Welsh": ("Wales", "United Kingdom", "UK"),
    "Yemeni": ("Yemen",),
    "Yugoslav": ("Yugoslavia",),
    "Zimbabwean": ("Zimbabwe", "Southern Rhodesia", "Rhodesia"),
    "Arab": ("Arabia",),
    "Jewish": (),
    "Anglo-Irish": ("Ireland", "United Kingdom"),
    "Anglo-Saxon": ("England",),
}

# Lower-case tokens that carry no content for overlap matching.
STOPWORDS = frozenset(
    """
a an the of in on at to for from by with and or as is was were be been being are his her
their its he she they him them this that these those who whom which what when where also
has had have not no but into during after before between about over under than then there
now later known well one first later became become s
""".split()
)

MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)

# Office words that open a Wikidata description of a ruler: its years are a reign, not a life.
OFFICE_WORDS = frozenset(
    {
        "king",
        "queen",
        "emperor",
        "empress",
        "president",
        "prime",
        "sultan",
        "pharaoh",
        "shah",
        "khan",
        "tsar",
        "pope",
        "chancellor",
        "duke",
        "prince",
        "princess",
        "regent",
        "viceroy",
        "caliph",
        "ruler",
        "leader",
        "head",
        "emir",
        "khedive",
        "hetman",
        "shahanshah",
        "dictator",
        "governor",
        "archbishop",
        "bishop",
        "patriarch",
        "grand",
        "holy",
        "first",
        "last",
        "supreme",
        "knyaz",
    }
)


def demonym_countries(demonym: str) -> tuple[str, ...]:
    """Countries that count as the nationality ``demonym`` (case-insensitive); () if unknown."""
    for key, countries in DEMONYMS.items():
        if key.lower() == demonym.lower():
            return countries
    return ()


def is_demonym(word: str) -> bool:
    """True for a known demonym, a hyphenated pair of them, or one with "-born"."""
    parts = [p for p in word.replace("\u2013", "-").split("-") if p]
    if not parts:
        return False
    if parts[-1].lower() == "born":
        parts = parts[:-1]
    if word in DEMONYMS:
        return True
    known = [p for p in parts if p.capitalize() in DEMONYMS]
    return bool(known) and all(p in known or p == "Anglo" for p in parts)


# A bio often names the kind ("artist") where the source names the trade ("painter"): the
# general word counts as supported when one of its trades is known.
OCCUPATION_HYPERNYMS: dict[str, frozenset[str]] = {
    "artist": frozenset(
        {
            "painter",
            "sculptor",
            "draughtsman",
            "illustrator",
            "printmaker",
            "photographer",
            "engraver",
            "ceramicist",
            "architect",
        }
    ),
    "writer": frozenset(
        {
            "novelist",
            "poet",
            "playwright",
            "dramatist",
            "essayist",
            "author",
            "journalist",
            "screenwriter",
            "satirist",
            "lyricist",
            "historian",
        }
    ),
    "scientist": frozenset(
        {
            "physicist",
            "chemist",
            "biologist",
            "biochemist",
            "astronomer",
            "geologist",
            "physiologist",
            "naturalist",
            "zoologist",
            "botanist",
            "mathematician",
            "microbiologist",
            "geneticist",
            "neuroscientist",
        }
    ),
    "musician": frozenset(
        {
            "composer",
            "pianist",
            "violinist",
            "singer",
            "guitarist",
            "conductor",
            "organist",
            "trumpeter",
            "cellist",
            "drummer",
            "songwriter",
        }
    ),
    "politician": frozenset({"statesman", "stateswoman", "president", "minister", "senator", "diplomat"}),
    "philosopher": frozenset({"logician", "theologian", "ethicist"}),
}
