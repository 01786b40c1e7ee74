"""Made-up comments for the synthetic demo region (`survey.demo.region`).

Short, plausible answers to the open question, by respondent group and tone, so that the quotes
workflow and de-identification have realistic material: praise, criticism, waiting lists, changing
care workers, and on purpose a few invented first names (some lowercase), ages without "jaar",
places and a school name. Everything here is fiction; none of it comes from a real family. The
texts are Dutch because families write Dutch; a small English pool serves English-language
respondents.
"""

from __future__ import annotations

from survey.enums import Group

TONES = ("positive", "mixed", "critical")

YOUTH_COMMENTS: dict[str, tuple[str, ...]] = {
    "positive": (
        "Ik vond het fijn dat ik zelf mocht kiezen wanneer we afspraken hadden.",
        "Sanne luisterde echt naar mij, ook als ik boos was. Dat was fijn.",
        "Het ging eerst slecht op school en nu gaat het veel beter. Dank je!",
        "Je kon gewoon appen als er iets was, dat hielp mij echt.",
        "ik vond de gesprekken met joost soms saai maar ik heb er wel veel van geleerd",
        "Eindelijk iemand die niet alleen met mijn ouders praatte maar ook met mij.",
        "Ik durf nu weer naar voetbal in Soest. Dat had ik niet gedacht.",
        "Top hulp. Ik wist wat ik kon verwachten en er werd naar mij geluisterd.",
        "De afspraken waren bij mij thuis en niet op kantoor, dat was veel relaxter.",
        "Ik heb geleerd hoe ik rustig blijf als het thuis weer misgaat.",
        "Mijn begeleider Fatima was altijd eerlijk tegen me, ook als het moeilijk was.",
    ),
    "mixed": (
        "Het hielp wel, maar het duurde lang voordat het begon.",
        "Soms snapte ik niet waarom we iets moesten doen. Meer uitleg zou fijn zijn.",
        "De eerste begeleider was top, daarna kreeg ik steeds iemand anders.",
        "Het was oké. Ik had liever wat vaker een afspraak gehad.",
        "Ik ben 15 en werd soms behandeld alsof ik nog klein ben.",
    ),
    "critical": (
        "Ik moest heel lang op de wachtlijst staan en toen was het bijna voorbij.",
        "Ze praatten vooral over mij en niet met mij.",
        "Ik had het gevoel dat niemand naar mij luisterde.",
        "Elke keer een nieuwe persoon, dan moest ik alles weer opnieuw vertellen.",
        "Het stopte gewoon, terwijl ik nog niet klaar was.",
        "Afspraken onder schooltijd, dan miste ik steeds les op De Wingerd.",
    ),
}

PARENT_COMMENTS: dict[str, tuple[str, ...]] = {
    "positive": (
        "Er werd naar ons geluisterd en we mochten zelf meedenken over de doelen.",
        "Onze zoon van 9 gaat weer met plezier naar school. Heel blij mee.",
        "Fijne, betrokken hulpverlener. Ilse stond altijd voor ons klaar.",
        "Duidelijke afspraken en goede uitleg over wat we konden verwachten.",
        "Wij voelden ons serieus genomen als ouders, zonder oordeel.",
        "Dankzij de gezinsbehandeling is er thuis weer rust. Dank aan het hele team!",
        "De hulp kwam snel op gang toen het echt nodig was.",
        "Goede samenwerking met school en met de huisarts in Baarn.",
        "Mijn dochter heeft veel geleerd over omgaan met haar angst. Super.",
        "Prettig dat de gesprekken ook 's avonds konden, naast ons werk.",
        "Bram heeft ons echt door een moeilijke periode heen geholpen.",
        "Praktische tips die we direct thuis konden gebruiken.",
    ),
    "mixed": (
        "De hulp zelf was goed, maar de wachttijd van vier maanden was veel te lang.",
        "Veel wisselingen van begeleiders. Wel steeds vriendelijke mensen.",
        "Het contact was prettig, maar de verslagen kwamen vaak laat.",
        "Voor onze dochter werkte het goed, als ouders hadden we meer steun willen hebben.",
        "Goede begeleiding, alleen jammer dat het traject na een half jaar al stopte.",
        "Het onderzoek was grondig, maar daarna wisten we niet wat de volgende stap was.",
    ),
    "critical": (
        "Wij stonden negen maanden op een wachtlijst. Intussen liep het thuis helemaal vast.",
        "We hebben het gevoel dat er niet naar ons werd geluisterd.",
        "Te veel formulieren en te weinig echte hulp.",
        "Niemand nam de telefoon op toen we in crisis zaten.",
        "De hulpverlener kwam vaak te laat of zegde af. Geen excuses.",
        "Mijn zoon mehmet werd niet serieus genomen, hij voelde zich niet gehoord.",
        "Na de verhuizing naar Woudenberg moesten we helemaal opnieuw beginnen.",
        "De afsluiting ging rommelig; we weten niet bij wie we nu terecht kunnen.",
    ),
}

ENGLISH_COMMENTS: dict[str, tuple[str, ...]] = {
    "positive": (
        "They listened to us and explained everything in English. Thank you.",
        "The help at home made a big difference for our family.",
        "Noor was kind and patient with me.",
    ),
    "mixed": (
        "Good help, but the waiting list was long.",
        "It helped, although the letters were only in Dutch.",
    ),
    "critical": (
        "We often did not understand what was decided about our son.",
        "Too many different people, nobody knew our story.",
    ),
}


def comment_pool(respondent_group: str, language: str, tone: str) -> tuple[str, ...]:
    """The comments a respondent of this group and language might write in this tone."""
    if language == "en":
        return ENGLISH_COMMENTS[tone]
    pool = YOUTH_COMMENTS if respondent_group == Group.YOUTH else PARENT_COMMENTS
    return pool[tone]
