"""Hand-made article pages for store and ingest tests: real prose, declared alternates."""

from __future__ import annotations

from html import escape

from pipeline.page import FetchedPage

TEXTS = {
    "en": [
        "The city council of Lyon approved a new plan on Tuesday to plant 12,000 trees along the "
        "banks of the Rhône before the summer of 2027, after two years of public consultation.",
        "Mayor Claire Dubois said the project would cost 48 million euros and lower the "
        "temperature in the most exposed streets by up to three degrees during heat waves.",
        "Opposition members criticised the timetable, arguing that the city had not yet found "
        "enough gardeners to care for the young trees in their first dry summers.",
    ],
    "de": [
        "Der Stadtrat von Lyon hat am Dienstag einen neuen Plan gebilligt, bis zum Sommer 2027 "
        "entlang der Ufer der Rhône 12.000 Bäume zu pflanzen, nach zwei Jahren Bürgerbeteiligung.",
        "Bürgermeisterin Claire Dubois sagte, das Projekt werde 48 Millionen Euro kosten und die "
        "Temperatur in den am stärksten betroffenen Straßen bei Hitzewellen um bis zu drei Grad "
        "senken.",
        "Mitglieder der Opposition kritisierten den Zeitplan und argumentierten, die Stadt habe "
        "noch nicht genug Gärtner gefunden, um die jungen Bäume in ihren ersten trockenen Sommern "
        "zu pflegen.",
    ],
    "fr": [
        "Le conseil municipal de Lyon a approuvé mardi un nouveau plan visant à planter 12 000 "
        "arbres le long des berges du Rhône avant l'été 2027, après deux ans de consultation.",
        "La maire Claire Dubois a déclaré que le projet coûterait 48 millions d'euros et ferait "
        "baisser la température des rues les plus exposées de trois degrés lors des canicules.",
        "Les élus de l'opposition ont critiqué le calendrier, estimant que la ville n'avait pas "
        "encore trouvé assez de jardiniers pour entretenir les jeunes arbres pendant les étés "
        "secs.",
    ],
}

TITLES = {
    "en": "Lyon will plant 12,000 trees along the Rhône",
    "de": "Lyon pflanzt 12.000 Bäume an der Rhône",
    "fr": "Lyon va planter 12 000 arbres le long du Rhône",
}


def article_html(
    lang: str,
    alternates: dict[str, str],
    paragraphs: list[str] | None = None,
    title: str | None = None,
    canonical: str | None = None,
) -> str:
    """A news page in `lang` declaring `alternates` (hreflang -> URL) in its head."""
    links = "\n".join(
        f'<link rel="alternate" hreflang="{escape(h)}" href="{escape(u)}">'
        for h, u in alternates.items()
    )
    canon = f'<link rel="canonical" href="{escape(canonical)}">' if canonical else ""
    body = "\n".join(f"<p>{escape(p)}</p>" for p in (paragraphs or TEXTS[lang]))
    head_title = escape(title or TITLES[lang])
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{head_title}</title>
{canon}
{links}
<meta name="author" content="Marie Lenoir">
<meta property="article:published_time" content="2026-03-10T08:00:00Z">
</head><body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<article><h1>{head_title}</h1>
{body}
</article>
<footer>Copyright 2026 The Example Post. All rights reserved.</footer>
</body></html>"""


def fetched(url: str, html: str, status: int = 200, **kwargs: object) -> FetchedPage:
    """A FetchedPage for `html` served at `url`."""
    return FetchedPage(
        requested_url=url,
        url=url,
        status=status,
        body=html.encode("utf-8"),
        headers={"content-type": "text/html; charset=utf-8"},
        **kwargs,  # type: ignore[arg-type]
    )


CLUSTER = {
    "en": "https://news.example.com/en/lyon-trees",
    "de": "https://news.example.com/de/lyon-baeume",
    "fr": "https://news.example.com/fr/lyon-arbres",
}


def cluster_page(lang: str, **kwargs: object) -> FetchedPage:
    """One edition of the three-language test story, declaring all three plus x-default."""
    alternates = {**CLUSTER, "x-default": CLUSTER["en"]}
    return fetched(CLUSTER[lang], article_html(lang, alternates, **kwargs))  # type: ignore[arg-type]
