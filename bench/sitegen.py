"""A generated multilingual news site for tests and benchmarks: N stories x languages.

Every story has the same paragraphs in each language (sentences translated by hand, numbers and
names varying per story), news boilerplate around the body, a full hreflang cluster with
x-default, and the site has an RSS feed and a sitemap with xhtml:link alternates. Pages use the
`{{BASE}}` placeholder, so `pipeline.sample_server.running(root)` serves them on any port.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import cache
from html import escape
from pathlib import Path

LANGS = ("en", "de", "fr", "es", "it")

SENTENCES = {
    "en": [
        "The city council approved a budget of {a} million euros for the project on Tuesday.",
        "According to the mayor, {name}, the work will begin in the spring of {year}.",
        "Residents of the old town have complained about the noise for more than {b} years.",
        "The opposition called the plan expensive and asked for an independent review.",
        "About {b} people attended a public meeting at the town hall last week.",
        "The regional government promised to pay a third of the costs.",
        "Engineers expect the new line to carry {a} thousand passengers a day.",
        "Local shops fear that the construction site will keep customers away.",
        "The environmental association welcomed the decision but wants more trees.",
        "A final vote is planned for the end of the year, officials said.",
    ],
    "de": [
        "Der Stadtrat hat am Dienstag ein Budget von {a} Millionen Euro für das Projekt gebilligt.",
        "Nach Angaben des Bürgermeisters {name} beginnen die Arbeiten im Frühjahr {year}.",
        "Bewohner der Altstadt beschweren sich seit mehr als {b} Jahren über den Lärm.",
        "Die Opposition nannte den Plan teuer und forderte eine unabhängige Prüfung.",
        "Rund {b} Menschen nahmen vergangene Woche an einer Bürgerversammlung im Rathaus teil.",
        "Die Landesregierung versprach, ein Drittel der Kosten zu übernehmen.",
        "Die Ingenieure erwarten, dass die neue Linie täglich {a} tausend Fahrgäste befördert.",
        "Die Geschäfte vor Ort fürchten, dass die Baustelle die Kundschaft fernhält.",
        "Der Umweltverband begrüßte die Entscheidung, wünscht sich aber mehr Bäume.",
        "Eine endgültige Abstimmung ist nach Angaben der Behörden für Ende des Jahres geplant.",
    ],
    "fr": [
        "Le conseil municipal a approuvé mardi un budget de {a} millions d'euros pour le projet.",
        "Selon le maire, {name}, les travaux commenceront au printemps {year}.",
        "Les habitants de la vieille ville se plaignent du bruit depuis plus de {b} ans.",
        "L'opposition a jugé le plan coûteux et a demandé un examen indépendant.",
        "Environ {b} personnes ont assisté la semaine dernière à une réunion publique à la mairie.",
        "Le gouvernement régional a promis de payer un tiers des coûts.",
        "Les ingénieurs s'attendent à ce que la nouvelle ligne transporte {a} mille voyageurs par jour.",
        "Les commerçants craignent que le chantier n'éloigne les clients.",
        "L'association de défense de l'environnement a salué la décision mais veut plus d'arbres.",
        "Un vote final est prévu pour la fin de l'année, selon les responsables.",
    ],
    "es": [
        "El ayuntamiento aprobó el martes un presupuesto de {a} millones de euros para el proyecto.",
        "Según el alcalde, {name}, las obras comenzarán en la primavera de {year}.",
        "Los vecinos del casco antiguo se quejan del ruido desde hace más de {b} años.",
        "La oposición calificó el plan de caro y pidió una revisión independiente.",
        "Unas {b} personas asistieron la semana pasada a una reunión pública en el ayuntamiento.",
        "El gobierno regional prometió pagar un tercio de los costes.",
        "Los ingenieros esperan que la nueva línea transporte {a} mil pasajeros al día.",
        "Los comercios de la zona temen que las obras alejen a los clientes.",
        "La asociación ecologista celebró la decisión, pero quiere más árboles.",
        "Una votación final está prevista para finales de año, según las autoridades.",
    ],
    "it": [
        "Il consiglio comunale ha approvato martedì un bilancio di {a} milioni di euro per il progetto.",
        "Secondo il sindaco, {name}, i lavori inizieranno nella primavera del {year}.",
        "Gli abitanti del centro storico si lamentano del rumore da più di {b} anni.",
        "L'opposizione ha definito il piano costoso e ha chiesto una verifica indipendente.",
        "Circa {b} persone hanno partecipato la settimana scorsa a un incontro pubblico in municipio.",
        "Il governo regionale ha promesso di pagare un terzo dei costi.",
        "Gli ingegneri prevedono che la nuova linea trasporterà {a} mila passeggeri al giorno.",
        "I negozi della zona temono che il cantiere tenga lontani i clienti.",
        "L'associazione ambientalista ha accolto la decisione ma chiede più alberi.",
        "Un voto finale è previsto per la fine dell'anno, hanno detto i funzionari.",
    ],
}
TITLES = {
    "en": "Council backs the {a} million euro plan for line {n}",
    "de": "Stadtrat unterstützt den Plan für Linie {n} mit {a} Millionen Euro",
    "fr": "Le conseil soutient le plan de {a} millions d'euros pour la ligne {n}",
    "es": "El ayuntamiento respalda el plan de {a} millones de euros para la línea {n}",
    "it": "Il consiglio sostiene il piano da {a} milioni di euro per la linea {n}",
}
BOILERPLATE = {
    "en": (
        "Home",
        "World",
        "Business",
        "Culture",
        "Sport",
        "Most read",
        "Subscribe to our newsletter",
        "All rights reserved.",
    ),
    "de": (
        "Startseite",
        "Welt",
        "Wirtschaft",
        "Kultur",
        "Sport",
        "Meistgelesen",
        "Newsletter abonnieren",
        "Alle Rechte vorbehalten.",
    ),
    "fr": (
        "Accueil",
        "Monde",
        "Économie",
        "Culture",
        "Sport",
        "Les plus lus",
        "Abonnez-vous à la newsletter",
        "Tous droits réservés.",
    ),
    "es": (
        "Portada",
        "Mundo",
        "Economía",
        "Cultura",
        "Deportes",
        "Lo más leído",
        "Suscríbete al boletín",
        "Todos los derechos reservados.",
    ),
    "it": (
        "Home",
        "Mondo",
        "Economia",
        "Cultura",
        "Sport",
        "I più letti",
        "Iscriviti alla newsletter",
        "Tutti i diritti riservati.",
    ),
}
NAMES = (
    "Anna Berger",
    "Marco Rossi",
    "Claire Dubois",
    "Jonas Weber",
    "Lucía Gómez",
    "Pieter de Vries",
)


@dataclass(frozen=True)
class Story:
    """One generated story: its numbers and the sentence indices of each paragraph."""

    number: int
    facts: dict[str, object]
    paragraphs: tuple[tuple[int, ...], ...]

    def path(self, lang: str) -> str:
        return f"/{lang}/news/story-{self.number:05d}.html"


def make_story(number: int, paragraphs: int = 6, seed: int = 0) -> Story:
    """A story with numbers and sentence choices drawn from a seeded generator."""
    rng = random.Random(seed * 1_000_003 + number)
    facts = {
        "a": rng.randint(2, 950),
        "b": rng.randint(3, 90),
        "year": rng.randint(2026, 2031),
        "name": rng.choice(NAMES),
        "n": number,
    }
    picks = tuple(
        tuple(rng.sample(range(len(SENTENCES["en"])), rng.randint(2, 3))) for _ in range(paragraphs)
    )
    return Story(number, facts, picks)


def paragraphs_of(story: Story, lang: str, revision: int = 0) -> list[str]:
    """The story's paragraphs in `lang`; a revision > 0 adds an update line at the end."""
    texts = [
        " ".join(SENTENCES[lang][i].format(**story.facts) for i in p) for p in story.paragraphs
    ]
    if revision:
        texts.append(f"Update {revision}: " + SENTENCES[lang][9].format(**story.facts))
    return texts


def page_html(story: Story, lang: str, langs: tuple[str, ...], revision: int = 0) -> str:
    """A full news page for one edition."""
    nav = BOILERPLATE[lang]
    alternates = "\n".join(
        f'<link rel="alternate" hreflang="{code}" href="{{{{BASE}}}}{story.path(code)}">'
        for code in langs
    )
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs_of(story, lang, revision))
    title = escape(TITLES[lang].format(**story.facts))
    related = "".join(
        f'<li><a href="/{lang}/news/story-{(story.number + k) % 99991:05d}.html">{escape(TITLES[lang].format(**{**story.facts, "n": story.number + k}))}</a></li>'
        for k in (1, 2, 3)
    )
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title} | The Daily Ledger</title>
<link rel="canonical" href="{{{{BASE}}}}{story.path(lang)}">
{alternates}
<link rel="alternate" hreflang="x-default" href="{{{{BASE}}}}{story.path(langs[0])}">
<meta property="og:image" content="{{{{BASE}}}}/images/story-{story.number}.jpg">
<meta name="author" content="{escape(str(story.facts["name"]))}">
<meta property="article:published_time" content="2026-05-{1 + story.number % 28:02d}T08:00:00Z">
</head><body>
<header><nav><a href="/{lang}/">{nav[0]}</a> <a href="/{lang}/world">{nav[1]}</a> <a href="/{lang}/business">{nav[2]}</a> <a href="/{lang}/culture">{nav[3]}</a> <a href="/{lang}/sport">{nav[4]}</a></nav></header>
<main><article><h1>{title}</h1>
<p class="byline">{escape(str(story.facts["name"]))}</p>
{body}
</article>
<aside><h2>{nav[5]}</h2><ul>{related}</ul></aside></main>
<footer><p>{nav[6]}</p><p>© 2026 The Daily Ledger. {nav[7]}</p></footer>
</body></html>
"""


def full_page_html(story: Story, lang: str, langs: tuple[str, ...], revision: int = 0) -> str:
    """`page_html` inside the chrome of a real news site (about 100 KB, as the data pack's pages
    run to 280 KB): inline CSS and scripts, JSON-LD, a mega menu, share bar, ad slots, related
    and most-read teasers, reader comments, a cookie banner and a long footer."""
    page = page_html(story, lang, langs, revision)
    head_end, body_start = page.index("</head>"), page.index("<body>") + len("<body>")
    article_end = page.index("</article>")
    rng = random.Random(story.number)
    nav = BOILERPLATE[lang]
    teasers = [
        (
            f"/{lang}/news/story-{rng.randrange(1, 99991):05d}.html",
            TITLES[lang].format(**{**story.facts, "n": rng.randrange(1, 99991)}),
            SENTENCES[lang][rng.randrange(10)].format(**story.facts),
        )
        for _ in range(40)
    ]
    json_ld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": TITLES[lang].format(**story.facts),
            "inLanguage": lang,
            "datePublished": f"2026-05-{1 + story.number % 28:02d}T08:00:00Z",
            "author": {"@type": "Person", "name": story.facts["name"]},
            "publisher": {"@type": "Organization", "name": "The Daily Ledger"},
        },
        ensure_ascii=False,
    ).replace("</", "<\\/")
    head = (
        _site_chrome()["style"]
        + f'<script type="application/ld+json">{json_ld}</script>'
        + _site_chrome()["head_script"]
    )
    top = (
        f'<div class="cookie-banner"><p>{escape(nav[6])} · {escape(nav[7])}</p>'
        "<button>OK</button></div>"
        + _mega_menu(lang)
        + '<div class="ad-slot" data-slot="top"><script>window.ads.push("top")</script></div>'
    )
    bottom = (
        '<div class="share"><a href="#">Facebook</a> <a href="#">X</a> <a href="#">Mail</a></div>'
        + '<section class="related"><ul>'
        + "".join(
            f'<li><div class="teaser"><a href="{url}"><figure><img src="/img/{k}.jpg" alt="">'
            f"</figure><h3>{escape(title)}</h3></a><p>{escape(text)}</p>"
            f'<span class="meta">{escape(nav[k % 5])}</span></div></li>'
            for k, (url, title, text) in enumerate(teasers[:24])
        )
        + '</ul></section><section class="comments"><ol>'
        + "".join(
            f'<li class="comment"><span class="user">{escape(NAMES[k % len(NAMES)])}</span>'
            f"<p>{escape(text)}</p></li>"
            for k, (_, _, text) in enumerate(teasers[24:32])
        )
        + "</ol></section>"
    )
    most_read = "".join(
        f'<li><a href="{url}">{escape(title)}</a></li>' for url, title, _ in teasers[32:]
    )
    return (
        page[:head_end]
        + head
        + page[head_end:body_start]
        + top
        + page[body_start:article_end]
        + bottom
        + page[article_end:]
        .replace("</footer>", _footer(lang) + "</footer>")
        .replace("</ul></aside>", most_read + "</ul></aside>")
        .replace("</body>", _site_chrome()["tail_script"] + "</body>")
    )


@cache
def _site_chrome() -> dict[str, str]:
    """Inline CSS and scripts of the generated site, the same on every page."""
    rng = random.Random(7)
    rules = "".join(
        f".c{k}{{margin:{rng.randrange(40)}px;color:#{rng.randrange(16**6):06x};"
        f"font:{rng.randrange(10, 30)}px/1.{rng.randrange(10)} serif}}"
        for k in range(500)
    )
    config = json.dumps({f"flag_{k}": rng.random() > 0.5 for k in range(400)})
    tracker = ";".join(
        f"t.push({{e:'view',k:{k},v:'{rng.randrange(16**8):08x}'}})" for k in range(300)
    )
    return {
        "style": f"<style>{rules}</style>",
        "head_script": f"<script>window.config={config};window.ads=[];</script>",
        "tail_script": f"<script>(function(t){{{tracker}}})(window.tracker=[]);</script>",
    }


@cache
def _mega_menu(lang: str) -> str:
    """A header menu of 16 sections x 12 subsections, in the page's language."""
    nav = BOILERPLATE[lang]
    sections = "".join(
        f'<li><a href="/{lang}/s{k}/">{escape(nav[k % 5])} {k}</a><ul>'
        + "".join(
            f'<li><a href="/{lang}/s{k}/t{j}/">{escape(nav[(k + j) % 5])} {k}.{j}</a></li>'
            for j in range(12)
        )
        + "</ul></li>"
        for k in range(16)
    )
    return f'<nav class="mega"><ul>{sections}</ul></nav>'


@cache
def _footer(lang: str) -> str:
    """Footer columns of links, in the page's language."""
    nav = BOILERPLATE[lang]
    return "".join(
        f'<ul class="col">{"".join(f"<li><a href=/{lang}/p{k}-{j}>{escape(nav[j % 8])}</a></li>" for j in range(15))}</ul>'
        for k in range(8)
    )


def generate_site(
    root: Path,
    stories: int,
    langs: tuple[str, ...] = LANGS,
    paragraphs: int = 6,
    seed: int = 0,
    full_pages: bool = False,
) -> list[Story]:
    """Write `stories` x `langs` pages, robots.txt, feed.xml and sitemap.xml under `root`;
    `full_pages` wraps each in a real site's chrome (`full_page_html`)."""
    made = [make_story(n, paragraphs, seed) for n in range(1, stories + 1)]
    render = full_page_html if full_pages else page_html
    for story in made:
        for lang in langs:
            path = root / story.path(lang).lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(story, lang, langs), encoding="utf-8")
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n", encoding="utf-8")
    (root / "feed.xml").write_text(_feed(made, langs[0]), encoding="utf-8")
    (root / "sitemap.xml").write_text(_sitemap(made, langs), encoding="utf-8")
    return made


def write_page(
    root: Path, story: Story, lang: str, langs: tuple[str, ...], revision: int = 0
) -> Path:
    """(Re)write one edition's page; a revision changes its text."""
    path = root / story.path(lang).lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page_html(story, lang, langs, revision), encoding="utf-8")
    return path


def _feed(stories: list[Story], lang: str) -> str:
    items = "\n".join(
        f"<item><title>{escape(TITLES[lang].format(**s.facts))}</title>"
        f"<link>{{{{BASE}}}}{s.path(lang)}</link></item>"
        for s in stories
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>The Daily Ledger</title><link>{{{{BASE}}}}/</link><language>{lang}</language>\n"
        f"{items}\n</channel></rss>\n"
    )


def _sitemap(stories: list[Story], langs: tuple[str, ...]) -> str:
    urls = []
    for story in stories:
        alternates = "".join(
            f'<xhtml:link rel="alternate" hreflang="{code}" href="{{{{BASE}}}}{story.path(code)}"/>'
            for code in langs
        )
        urls += [
            f"<url><loc>{{{{BASE}}}}{story.path(lang)}</loc>{alternates}</url>" for lang in langs
        ]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:xhtml="http://www.w3.org/1999/xhtml">\n' + "\n".join(urls) + "\n</urlset>\n"
    )
