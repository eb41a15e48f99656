"""The QR code totpctl prints is really scannable: the printed text is turned back into a module
matrix as a terminal would show it, drawn into a PNG with Pillow, and decoded by zbarimg (an
independent decoder); the result must be the otpauth URI totpctl printed, in every mode."""

import re
import subprocess

import pytest
from PIL import Image

ANSI_CELL = re.compile(r"\x1b\[(4[07])m  ")


def light_matrix(text, mode):
    """Rows of booleans, True where the terminal shows light, from the printed QR lines."""
    rows = []
    if mode == "utf8":
        halves = {"█": (True, True), "▀": (True, False), "▄": (False, True), " ": (False, False)}
        for line in text:
            pairs = [halves[c] for c in line]
            rows.append([top for top, _ in pairs])
            rows.append([bottom for _, bottom in pairs])
    else:
        for line in text:
            # 47 = white background, 40 = black.
            rows.append([color == "47" for color in ANSI_CELL.findall(line)])
    return rows


def decode(rows, invert):
    scale, border = 8, 4
    width, height = len(rows[0]), len(rows)
    image = Image.new("L", ((width + 2 * border) * scale, (height + 2 * border) * scale), 255)
    for y, row in enumerate(rows):
        for x, light in enumerate(row):
            # A scanner app reads an inverted code as readily; zbarimg needs it the right way round.
            if (not light) != invert:
                image.paste(0, ((x + border) * scale, (y + border) * scale,
                                (x + border + 1) * scale, (y + border + 1) * scale))
    return image


def utf8_qr_lines(lines):
    """The lines of a half-block QR code among other printed lines."""
    return [line for line in lines if line and set(line) <= set("█▀▄ ") and "█" in line or line.startswith("▀▀")]


def scan(rows, invert, png):
    """The text zbarimg reads from the module rows, drawn into png."""
    decode(rows, invert).save(png)
    decoded = subprocess.run(["zbarimg", "--raw", "-q", str(png)], capture_output=True, text=True)
    assert decoded.returncode == 0, f"zbarimg could not read the QR code: {decoded.stderr}"
    return decoded.stdout.strip()


def decode_utf8_qr(text, png):
    """The text zbarimg reads from the half-block QR code in text (saved to png on the way)."""
    return scan(light_matrix(utf8_qr_lines(text.splitlines()), "utf8"), False, png)


@pytest.mark.parametrize("mode", ["utf8", "ansi", "ansi-inverse"])
def test_printed_qr_decodes_to_the_printed_uri(tools, make_user, workdir, mode):
    user = make_user()
    printed = tools.totpctl("enroll", "--user", user, f"--qr={mode}")
    assert printed.returncode == 0, printed.stderr
    lines = printed.stdout.splitlines()
    uri = next(line.split("URI:", 1)[1].strip() for line in lines if line.strip().startswith("URI:"))
    if mode == "utf8":
        qr = utf8_qr_lines(lines)
    else:
        qr = [line for line in lines if ANSI_CELL.search(line)]
    assert qr, printed.stdout
    rows = light_matrix(qr, mode)
    assert len({len(row) for row in rows}) == 1
    # The quiet zone: at least two light modules on every side (as the terminal shows it).
    expected_light = mode != "ansi-inverse"
    for row in rows[:2]:
        assert all(cell == expected_light for cell in row)
    for row in rows[2:-3]:
        assert row[0] == row[1] == row[-1] == row[-2] == expected_light
    assert scan(rows, mode == "ansi-inverse", workdir / f"qr-{mode}.png") == uri
    assert "secret=" in uri and user in uri


def test_no_qr_when_asked_and_the_secret_is_still_printed(tools, make_user):
    printed = tools.totpctl("enroll", "--user", make_user(), "--qr=none")
    assert printed.returncode == 0 and "█" not in printed.stdout and "\x1b[" not in printed.stdout
    assert "Secret: " in printed.stdout
