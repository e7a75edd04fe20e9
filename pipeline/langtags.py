"""BCP 47 language tags: normalisation, names and menu-label recognition (no project imports).

Choices for common mistakes in the wild (only codes that are *not* valid ISO 639-1 languages are
remapped, so a real language is never rewritten):

* ``jp``->``ja``, ``cn``->``zh``, ``gr``->``el``, ``cz``->``cs``, ``dk``->``da``, ``ua``->``uk``,
  ``vn``->``vi`` (country codes used as languages; none of them is a language code).
* ``se`` is Northern Sami and ``kr`` is Kanuri, so they are kept as they are even though sites
  sometimes mean Sweden/Korea.
* Deprecated ISO codes: ``iw``->``he``, ``in``->``id``, ``ji``->``yi``, ``jw``->``jv``,
  ``mo``->``ro``.
* Region ``UK`` -> ``GB`` (``en-UK`` -> ``en-GB``).
* Three-letter ISO 639-2/3 codes of common languages -> their two-letter code
  (``deu``/``ger``->``de``).
"""

import re
import unicodedata

_MAX_TAG_LEN = 35
_SUBTAG_RE = re.compile(r"[a-z0-9]{1,8}")
_LANGUAGE_RE = re.compile(r"[a-z]{2,3}")

_LANGUAGE_FIXES = {
    "jp": "ja", "cn": "zh", "gr": "el", "cz": "cs", "dk": "da", "ua": "uk", "vn": "vi",
    "iw": "he", "in": "id", "ji": "yi", "jw": "jv", "mo": "ro",
}  # fmt: skip
_REGION_FIXES = {"UK": "GB"}

# ISO 639-2/B, 639-2/T and 639-3 codes of common languages -> ISO 639-1.
_THREE_LETTER = {
    "afr": "af", "alb": "sq", "amh": "am", "ara": "ar", "arm": "hy", "aze": "az", "baq": "eu",
    "bel": "be", "ben": "bn", "bos": "bs", "bul": "bg", "bur": "my", "cat": "ca", "ces": "cs",
    "chi": "zh", "cym": "cy", "cze": "cs", "dan": "da", "deu": "de", "dut": "nl", "ell": "el",
    "eng": "en", "epo": "eo", "est": "et", "eus": "eu", "fas": "fa", "fin": "fi", "fra": "fr",
    "fre": "fr", "geo": "ka", "ger": "de", "gle": "ga", "glg": "gl", "gre": "el", "guj": "gu",
    "hau": "ha", "heb": "he", "hin": "hi", "hrv": "hr", "hun": "hu", "hye": "hy", "ibo": "ig",
    "ice": "is", "ind": "id", "isl": "is", "ita": "it", "jav": "jv", "jpn": "ja", "kan": "kn",
    "kat": "ka", "kaz": "kk", "khm": "km", "kir": "ky", "kor": "ko", "kur": "ku", "lao": "lo",
    "lat": "la", "lav": "lv", "lit": "lt", "ltz": "lb", "mac": "mk", "mal": "ml", "mar": "mr",
    "may": "ms", "mkd": "mk", "mlt": "mt", "mon": "mn", "msa": "ms", "mya": "my", "nep": "ne",
    "nld": "nl", "nno": "nn", "nob": "nb", "nor": "no", "pan": "pa", "per": "fa", "pol": "pl",
    "por": "pt", "pus": "ps", "ron": "ro", "rum": "ro", "rus": "ru", "sin": "si", "slk": "sk",
    "slo": "sk", "slv": "sl", "som": "so", "spa": "es", "sqi": "sq", "srp": "sr", "swa": "sw",
    "swe": "sv", "tam": "ta", "tel": "te", "tgk": "tg", "tgl": "tl", "tha": "th", "tuk": "tk",
    "tur": "tr", "ukr": "uk", "urd": "ur", "uzb": "uz", "vie": "vi", "wel": "cy", "xho": "xh",
    "yid": "yi", "yor": "yo", "zho": "zh", "zul": "zu",
}  # fmt: skip

_ISO_639_1 = (
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy "
    "da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu "
    "hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb "
    "lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om "
    "or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw "
    "ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu"
)
# Known primary subtags: every ISO 639-1 code plus a few common three-letter-only languages.
LANGUAGE_CODES: frozenset[str] = frozenset(_ISO_639_1.split()) | {"fil", "haw", "yue", "ckb"}

# code -> (English name, endonyms...). The first 60+ are the most used languages on the web.
_LANGUAGES: dict[str, tuple[str, ...]] = {
    "en": ("English",),
    "es": ("Spanish", "Español", "Castellano"),
    "de": ("German", "Deutsch"),
    "ja": ("Japanese", "日本語", "にほんご"),
    "fr": ("French", "Français", "Francais"),
    "ru": ("Russian", "Русский", "Русский язык"),
    "pt": ("Portuguese", "Português", "Portugues"),
    "it": ("Italian", "Italiano"),
    "nl": ("Dutch", "Nederlands"),
    "pl": ("Polish", "Polski"),
    "tr": ("Turkish", "Türkçe", "Turkce"),
    "fa": ("Persian", "فارسی", "Farsi"),
    "zh": ("Chinese", "中文", "汉语", "漢語", "华语", "華語"),
    "vi": ("Vietnamese", "Tiếng Việt", "Tieng Viet"),
    "id": ("Indonesian", "Bahasa Indonesia", "Indonesia"),
    "cs": ("Czech", "Čeština", "Česky", "Cestina"),
    "ko": ("Korean", "한국어", "조선말"),
    "uk": ("Ukrainian", "Українська", "Українська мова"),
    "hu": ("Hungarian", "Magyar"),
    "ar": ("Arabic", "العربية", "عربي"),
    "sv": ("Swedish", "Svenska"),
    "ro": ("Romanian", "Română", "Romana"),
    "el": ("Greek", "Ελληνικά"),
    "he": ("Hebrew", "עברית"),
    "da": ("Danish", "Dansk"),
    "fi": ("Finnish", "Suomi"),
    "th": ("Thai", "ไทย", "ภาษาไทย"),
    "sk": ("Slovak", "Slovenčina", "Slovensky"),
    "bg": ("Bulgarian", "Български"),
    "sr": ("Serbian", "Српски", "Srpski"),
    "no": ("Norwegian", "Norsk"),
    "nb": ("Norwegian Bokmål", "Norsk bokmål", "Bokmål"),
    "nn": ("Norwegian Nynorsk", "Norsk nynorsk", "Nynorsk"),
    "hr": ("Croatian", "Hrvatski"),
    "lt": ("Lithuanian", "Lietuvių", "Lietuvių kalba"),
    "sl": ("Slovenian", "Slovenščina", "Slovene"),
    "ca": ("Catalan", "Català"),
    "et": ("Estonian", "Eesti", "Eesti keel"),
    "lv": ("Latvian", "Latviešu", "Latviešu valoda"),
    "hi": ("Hindi", "हिन्दी", "हिंदी"),
    "bn": ("Bengali", "বাংলা", "Bangla"),
    "ms": ("Malay", "Bahasa Melayu", "Melayu"),
    "az": ("Azerbaijani", "Azərbaycanca", "Azərbaycan dili"),
    "kk": ("Kazakh", "Қазақша", "Қазақ тілі"),
    "ka": ("Georgian", "ქართული"),
    "hy": ("Armenian", "Հայերեն"),
    "sq": ("Albanian", "Shqip"),
    "mk": ("Macedonian", "Македонски"),
    "bs": ("Bosnian", "Bosanski"),
    "be": ("Belarusian", "Беларуская"),
    "is": ("Icelandic", "Íslenska"),
    "ga": ("Irish", "Gaeilge"),
    "cy": ("Welsh", "Cymraeg"),
    "eu": ("Basque", "Euskara"),
    "gl": ("Galician", "Galego"),
    "ta": ("Tamil", "தமிழ்"),
    "te": ("Telugu", "తెలుగు"),
    "ur": ("Urdu", "اردو"),
    "mr": ("Marathi", "मराठी"),
    "gu": ("Gujarati", "ગુજરાતી"),
    "kn": ("Kannada", "ಕನ್ನಡ"),
    "ml": ("Malayalam", "മലയാളം"),
    "pa": ("Punjabi", "ਪੰਜਾਬੀ", "Panjabi"),
    "ne": ("Nepali", "नेपाली"),
    "si": ("Sinhala", "සිංහල", "Sinhalese"),
    "my": ("Burmese", "မြန်မာ", "မြန်မာဘာသာ", "Myanmar"),
    "km": ("Khmer", "ខ្មែរ", "ភាសាខ្មែរ"),
    "lo": ("Lao", "ລາວ", "ພາສາລາວ"),
    "mn": ("Mongolian", "Монгол", "Монгол хэл"),
    "uz": ("Uzbek", "Oʻzbekcha", "O'zbekcha", "Ўзбекча"),
    "tg": ("Tajik", "Тоҷикӣ"),
    "ky": ("Kyrgyz", "Кыргызча"),
    "tk": ("Turkmen", "Türkmençe"),
    "sw": ("Swahili", "Kiswahili"),
    "af": ("Afrikaans",),
    "zu": ("Zulu", "isiZulu"),
    "xh": ("Xhosa", "isiXhosa"),
    "am": ("Amharic", "አማርኛ"),
    "so": ("Somali", "Soomaali", "Af-Soomaali"),
    "ha": ("Hausa",),
    "yo": ("Yoruba", "Yorùbá"),
    "ig": ("Igbo",),
    "tl": ("Tagalog",),
    "fil": ("Filipino",),
    "ps": ("Pashto", "پښتو"),
    "ku": ("Kurdish", "Kurdî"),
    "ckb": ("Central Kurdish", "کوردی", "Sorani"),
    "mt": ("Maltese", "Malti"),
    "lb": ("Luxembourgish", "Lëtzebuergesch"),
    "fy": ("Western Frisian", "Frysk"),
    "eo": ("Esperanto",),
    "la": ("Latin", "Latina"),
    "yi": ("Yiddish", "ייִדיש"),
    "jv": ("Javanese", "Basa Jawa"),
    "rm": ("Romansh", "Rumantsch"),
    "yue": ("Cantonese", "粵語", "廣東話"),
}

# Labels naming a specific variety (checked before the generic names).
_VARIANT_LABELS = {
    "简体中文": "zh-Hans", "简体": "zh-Hans", "中文(简体)": "zh-Hans", "中文 (简体)": "zh-Hans",
    "繁體中文": "zh-Hant", "繁體": "zh-Hant", "中文(繁體)": "zh-Hant", "中文 (繁體)": "zh-Hant",
    "simplified chinese": "zh-Hans", "chinese (simplified)": "zh-Hans",
    "traditional chinese": "zh-Hant", "chinese (traditional)": "zh-Hant",
    "português (brasil)": "pt-BR", "português do brasil": "pt-BR", "português brasileiro": "pt-BR",
    "portuguese (brazil)": "pt-BR", "brazilian portuguese": "pt-BR",
    "português (portugal)": "pt-PT", "portuguese (portugal)": "pt-PT",
    "english (uk)": "en-GB", "english (united kingdom)": "en-GB", "english (us)": "en-US",
    "english (united states)": "en-US", "english (international)": "en",
    "español (méxico)": "es-MX", "español (españa)": "es-ES", "español (latinoamérica)": "es-419",
    "français (canada)": "fr-CA", "français (france)": "fr-FR",
    "deutsch (österreich)": "de-AT", "deutsch (schweiz)": "de-CH",
}  # fmt: skip

_PAIR_RE = re.compile(r"^(.+?)\s*(?:\((.+)\)|\[(.+)\]|[/|–-]\s*(.+))$")


def _fold(text: str) -> str:
    """Case- and whitespace-insensitive form of a label."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


_NAME_TO_CODE: dict[str, str] = {
    _fold(name): code for code, names in _LANGUAGES.items() for name in names
}
_VARIANT_TO_CODE = {_fold(label): code for label, code in _VARIANT_LABELS.items()}


def _case_subtags(subtags: list[str]) -> list[str] | None:
    """Apply BCP 47 case conventions and check the syntax; None when malformed."""
    language = _THREE_LETTER.get(subtags[0], _LANGUAGE_FIXES.get(subtags[0], subtags[0]))
    if not _LANGUAGE_RE.fullmatch(language):
        return None
    out = [language]
    rest = subtags[1:]
    while rest and len(rest[0]) == 3 and rest[0].isalpha() and len(out) < 4:
        out.append(rest.pop(0))  # extlang
    if rest and len(rest[0]) == 4 and rest[0].isalpha():
        out.append(rest.pop(0).title())  # script
    if rest and (
        (len(rest[0]) == 2 and rest[0].isalpha()) or (len(rest[0]) == 3 and rest[0].isdigit())
    ):
        region = rest.pop(0).upper()
        out.append(_REGION_FIXES.get(region, region))
    return out + rest if _valid_tail(rest) else None


def _valid_tail(rest: list[str]) -> bool:
    """Variants, then extensions (singleton + subtags of 2-8), then private use (x + 1-8)."""
    index = 0
    while index < len(rest) and len(rest[index]) > 1:
        variant = rest[index]
        if not (len(variant) >= 5 or (len(variant) == 4 and variant[0].isdigit())):
            return False
        index += 1
    while index < len(rest):
        singleton, index = rest[index], index + 1
        if singleton == "x":
            return index < len(rest)
        start = index
        while index < len(rest) and len(rest[index]) > 1:
            index += 1
        if len(singleton) != 1 or index == start:
            return False
    return True


def normalize_tag(raw: str | None) -> str | None:
    """Normalise a language tag to BCP 47 case and fix common mistakes; None if not a tag."""
    if not isinstance(raw, str):
        return None
    text = raw.strip().replace("_", "-").lower()
    if text == "x-default":
        return "x-default"
    if not text or len(text) > _MAX_TAG_LEN:
        return None
    subtags = text.split("-")
    if not all(_SUBTAG_RE.fullmatch(subtag) for subtag in subtags):
        return None
    cased = _case_subtags(subtags)
    return "-".join(cased) if cased else None


def primary_subtag(tag: str) -> str:
    """The language subtag: ``"zh-Hant-TW"`` -> ``"zh"``."""
    return tag.split("-", 1)[0].lower()


def language_name(tag: str) -> str:
    """English name of a tag's language (``"de"`` -> ``"German"``); unknown tags come back as is."""
    names = _LANGUAGES.get(primary_subtag(tag))
    if not names:
        return tag
    rest = tag.split("-", 1)[1:]
    return f"{names[0]} ({rest[0]})" if rest else names[0]


def language_from_name(text: str) -> str | None:
    """Code of the language a menu label names (endonym or English name), exact label match."""
    label = _fold(text)
    if not label or len(label) > 60:
        return None
    code = _VARIANT_TO_CODE.get(label) or _NAME_TO_CODE.get(label)
    if code:
        return code
    return _pair_label(label)


def _pair_label(label: str) -> str | None:
    """``"Deutsch (German)"``, ``"日本語 / Japanese"``: both halves must name the same language."""
    match = _PAIR_RE.match(label)
    if not match:
        return None
    first = _NAME_TO_CODE.get(match.group(1))
    second = next(group for group in match.groups()[1:] if group)
    return first if first and first == _NAME_TO_CODE.get(second.strip()) else None
