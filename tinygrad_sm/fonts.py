"""A Chinese page shows Chinese on any machine: the page carries the CJK glyphs it uses.

`with_cjk_font(html)` finds the CJK characters in a page (or a notebook output), cuts those
glyphs out of a Noto Sans CJK font (fontTools' subsetter, the regular weight of the variable
font, WOFF), and adds them as an @font-face in base64 with CSS rules that put that face first
in every font-family list the page uses. Latin text keeps its fonts (the face has no Latin
glyphs); a page without CJK characters (an English page) is returned unchanged, at no cost.

Where the font comes from, in this order:
1. the package manimgx-fonts-cjk (Noto Sans CJK, SIL OFL), installed by `pip install
   tinygrad-sm[zh]`;
2. the system's Chinese font as fontconfig names it (`fc-match :lang=zh-cn`; Debian:
   fonts-noto-cjk or fonts-wqy-microhei), used only if it has the page's characters.
Without either, or without fontTools, the page is written as before (the browser's own fonts).

Standard library and fontTools only; nothing from the rest of the package.
"""
from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from functools import lru_cache
from importlib import resources

FAMILY = "tinygrad-sm CJK"
# CJK radicals, symbols and punctuation (。、「」), kana, Han (extension A, unified,
# compatibility), vertical forms, full-width forms (，：（）；)
CJK_RANGES = ((0x2E80, 0x2FDF), (0x3000, 0x33FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF),
              (0xF900, 0xFAFF), (0xFE10, 0xFE1F), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF))
PACKAGE_FONT = ("manimgx_fonts_cjk", "NotoSansCJK-VF.otf.ttc")
PREFERRED_FACE = "Noto Sans CJK SC"  # simplified Chinese glyph shapes, in a collection


CJK_CHARACTER = re.compile("[" + "".join(f"{chr(low)}-{chr(high)}" for low, high in CJK_RANGES) + "]")


def cjk_characters(text: str) -> list[str]:
    """The distinct CJK characters of text, sorted (a regular expression: a page of a big
    batch holds millions of characters, too many to look at one by one in Python)."""
    return sorted(set(CJK_CHARACTER.findall(text)))


# ---- finding a font ----

def package_font() -> tuple[str, int | None] | None:
    """(path, face) of Noto Sans CJK from the zh extra, or None when it is not installed."""
    package, name = PACKAGE_FONT
    try:
        path = resources.files(package).joinpath(name)
    except ModuleNotFoundError:
        return None
    return (str(path), None) if path.is_file() else None


def fontconfig_font() -> tuple[str, int | None] | None:
    """(path, face index) of the font fontconfig picks for Chinese, or None (no fc-match)."""
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return None
    try:
        done = subprocess.run([fc_match, "-f", "%{file}\n%{index}", ":lang=zh-cn"],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = done.stdout.splitlines()
    if done.returncode != 0 or not lines or not lines[0]:
        return None
    index = int(lines[1]) if len(lines) > 1 and lines[1].isdigit() else 0
    return lines[0], index


def font_sources() -> list[tuple[str, int | None]]:
    """Where a CJK font may be, in the order tried (see the module's docstring)."""
    return [source for source in (package_font(), fontconfig_font()) if source is not None]


def _open_face(path: str, index: int | None):
    """The face at index of a font file (None: the simplified Chinese face of a collection)."""
    from fontTools.ttLib import TTCollection, TTFont

    if index is None and path.lower().endswith((".ttc", ".otc")):
        collection = TTCollection(path, lazy=True)
        try:
            names = [face["name"].getDebugName(1) for face in collection.fonts]
        finally:
            collection.close()
        index = names.index(PREFERRED_FACE) if PREFERRED_FACE in names else 0
    return TTFont(path, fontNumber=index or 0, lazy=True)  # the caller closes it


# ---- cutting the subset ----

@lru_cache(maxsize=32)
def subset_font(characters: str) -> tuple[bytes, str] | None:
    """A WOFF font with exactly the glyphs of those characters that a CJK font has, and the
    characters it covers; None without fontTools, without a font, or when no font has any.

    Cutting from the whole font takes seconds (65 000 glyphs). A command writes a page or two:
    each is cut from the whole font. From the third character set on (a notebook, the tests),
    the catalogues' characters are cut once, and a page whose characters are all among them is
    cut from that small font, in a fraction of the time."""
    global _cuts_from_sources
    try:
        import fontTools.subset  # noqa: F401  (fontTools comes with matplotlib; checked anyway)
    except ImportError:
        return None
    base = _catalogue_font() if _cuts_from_sources >= 2 else None
    if base is not None and set(characters) <= set(base[1]):
        from fontTools.ttLib import TTFont
        return _subset(TTFont(io.BytesIO(base[0])), characters), characters
    _cuts_from_sources += 1
    return _cut_from_sources(characters)


_cuts_from_sources = 0  # how many pages were cut from the whole font in this process


def forget() -> None:
    """Forget every font cut so far (after the fonts installed have changed; for tests)."""
    global _cuts_from_sources
    subset_font.cache_clear()
    _catalogue_font.cache_clear()
    _cuts_from_sources = 0


def catalogue_characters() -> str:
    """The CJK characters of every message catalogue (the package's locales/*.json)."""
    folder = resources.files("tinygrad_sm").joinpath("locales")
    text = "".join(p.read_text(encoding="utf-8") for p in folder.iterdir() if p.name.endswith(".json"))
    return "".join(cjk_characters(text))


@lru_cache(maxsize=1)
def _catalogue_font() -> tuple[bytes, str] | None:
    """The catalogues' characters cut from the first font that has them, as a plain OpenType
    font, and the characters it covers."""
    return _cut_from_sources(catalogue_characters(), flavor=None)


def _cut_from_sources(characters: str, flavor: str | None = "woff") -> tuple[bytes, str] | None:
    for path, index in font_sources():
        try:
            face = _open_face(path, index)
        except Exception:  # an unreadable system font: try the next source
            continue
        try:
            covered = "".join(c for c in characters if ord(c) in face.getBestCmap())
            if covered:
                return _subset(face, covered, flavor), covered
        finally:
            face.close()
    return None


def _subset(face, covered: str, flavor: str | None = "woff") -> bytes:
    """face cut down to the glyphs of `covered` (each in its cmap), as WOFF bytes (flavor None:
    plain OpenType)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont
    from fontTools.varLib import instancer

    options = subset.Options()
    options.layout_features, options.name_IDs, options.hinting = [], [], False
    options.notdef_outline = False
    options.drop_tables += ["BASE", "DSIG", "STAT", "VORG", "vhea", "vmtx", "VVAR",
                            "GSUB", "GPOS", "GDEF"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in covered])
    subsetter.subset(face)
    if "fvar" in face:  # a variable font: its regular weight, as a static CFF2 font
        buffer = io.BytesIO()
        face.save(buffer)  # the instancer needs the subset read back, not the lazy original
        buffer.seek(0)
        # (fontTools' CFF2-to-CFF downgrade fails on this CID-keyed font; browsers read CFF2)
        face = instancer.instantiateVariableFont(TTFont(buffer), {"wght": 400}, static=True)
        for table in ("VVAR", "HVAR", "STAT"):
            if table in face:
                del face[table]
    face.flavor = flavor
    out = io.BytesIO()
    face.save(out)
    return out.getvalue()


# ---- the CSS ----

def _unicode_range(characters: str) -> str:
    return ", ".join(f"U+{ord(c):X}" for c in characters)


def _font_family(families: str, body: str) -> str:
    """The declaration with the embedded face first. `monospace` alone has browsers size text
    at 13/16 of the default, any other list does not: that size is kept, so tables of numbers
    look as they did."""
    declaration = f'font-family: "{FAMILY}", {families};'
    if families != "monospace":
        return declaration
    size = re.search(r"font-size\s*:\s*([^;}]+)", body)
    return f"{declaration} font-size: calc({size.group(1).strip() if size else '1em'} * 13 / 16);"


def _font_family_rules(html_text: str, scope: str = ".tg-stepper svg ") -> list[str]:
    """Each font-family the page uses, again with the embedded face first: the buttons', the
    diagram's font-family attributes, the page's CSS rules (same selector, later, so they win).
    scope: what the diagram's text elements are inside ("" for an SVG file)."""
    # form controls do not inherit the page's font (browsers give them their own)
    rules = [f'.tg-stepper button, .tg-stepper input, .tg-stepper output {{ '
             f'font-family: "{FAMILY}", sans-serif; }}'] if scope else []
    for value in sorted(set(re.findall(r'<text[^>]*\bfont-family="([^"]+)"', html_text))):
        rules.append(f'{scope}text[font-family="{value}"] '
                     f'{{ font-family: "{FAMILY}", {value}; }}')
    for css in re.findall(r"<style[^>]*>(.*?)</style>", html_text, re.S):
        css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
        for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
            family = re.search(r"font-family\s*:\s*([^;}]+)", body)
            if family and FAMILY not in family.group(1) and not selector.strip().startswith("@"):
                rules.append(f"{selector.strip()} {{ {_font_family(family.group(1).strip(), body)} }}")
    return rules


def font_style(html_text: str, scope: str = ".tg-stepper svg ") -> str:
    """A <style> element embedding the CJK glyphs html_text uses, or "" (no CJK characters,
    no font found, no fontTools). scope: see _font_family_rules."""
    characters = "".join(cjk_characters(html_text))
    if not characters:
        return ""
    made = subset_font(characters)
    if made is None:
        return ""
    font, covered = made
    data = base64.b64encode(font).decode("ascii")
    face = (f'@font-face {{ font-family: "{FAMILY}"; src: url(data:font/woff;base64,{data}) '
            f'format("woff"); unicode-range: {_unicode_range(covered)}; }}')
    return "<style>" + "\n".join([face, *_font_family_rules(html_text, scope)]) + "</style>"


def with_cjk_font(html_text: str) -> str:
    """html_text with font_style(html_text) after its last <style> element (so its rules come
    later and win), else at the start; unchanged when there is nothing to embed."""
    style = font_style(html_text)
    if not style:
        return html_text
    end = html_text.rfind("</style>")
    if end < 0:
        return style + html_text
    end += len("</style>")
    return html_text[:end] + style + html_text[end:]


def svg_with_cjk_font(svg: bytes) -> bytes:
    """An SVG file (a diagram) with the CJK glyphs its text uses, as a <style> first inside its
    <svg> element, so it too shows Chinese on any machine; unchanged when there is nothing to
    embed."""
    text = svg.decode("utf-8")
    style = font_style(text, scope="")
    start = re.search(r"<svg\b[^>]*>", text)
    if not style or start is None:
        return svg
    return (text[:start.end()] + style + text[start.end():]).encode("utf-8")
