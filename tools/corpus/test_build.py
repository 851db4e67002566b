"""Tests of tools/corpus/build on a package made here (no download): unpacking through archives,
labelling, decoding, silence and duplicates, the split, and the failures that must stop the
build naming the package with nothing half-written.

usage: python3 -m unittest tools/corpus/test_build.py   (needs requirements.txt)"""

import importlib.machinery
import importlib.util
import io
import json
import re
import struct
import subprocess
import sys
import tempfile
import unittest
import wave
import zipfile
from pathlib import Path
from unittest import mock

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
loader = importlib.machinery.SourceFileLoader("build", str(HERE / "build"))
spec = importlib.util.spec_from_loader("build", loader)
build = importlib.util.module_from_spec(spec)
sys.modules["build"] = build
loader.exec_module(build)
import split  # noqa: E402


def wav_bytes(x, rate=44100, channels=1):
    b = io.BytesIO()
    with wave.open(b, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    return b.getvalue()


def tone(freq, seconds, rate=44100):
    """A tone with a loudness envelope (a flat one is no fingerprint)."""
    t = np.arange(int(seconds * rate)) / rate
    return 0.5 * np.sin(2 * np.pi * freq * t) * (0.55 + 0.45 * np.sin(2 * np.pi * 3 * t)) * np.exp(-t)


def cat_bytes(entries):
    """An OpenTTD-style catalogue: offsets and sizes with the top bit set, as opensfx.cat has."""
    head = 8 * len(entries)
    body, table = b"", b""
    for name, data in entries:
        e = bytes([len(name) + 1]) + name.encode() + b"\0" + data
        table += struct.pack("<II", (head + len(body)) | 0x80000000, len(e) | 0x80000000)
        body += e
    return table + body


def make_deb(root: Path, name="test-sounds", version="1.0-1"):
    pkg = root / "pkg"
    files = pkg / "usr/share/test"
    files.mkdir(parents=True)
    (files / "dog_bark_01.wav").write_bytes(wav_bytes(tone(440, 1.0)))
    (files / "dog_bark_02.wav").write_bytes(wav_bytes(tone(660, 1.2)))
    # The same sound again, at another rate: a near-duplicate to drop.
    (files / "dog_copy.wav").write_bytes(wav_bytes(tone(440, 1.0, rate=22050), rate=22050))
    (files / "silence.wav").write_bytes(wav_bytes(np.zeros(44100)))
    (files / "short.wav").write_bytes(wav_bytes(tone(300, 0.1)))
    (files / "junk.wav").write_bytes(b"RIFF\0\0\0\0WAVEjunk")
    (files / "ignored.wav").write_bytes(wav_bytes(tone(500, 1.0)))
    with zipfile.ZipFile(files / "sounds.zip", "w") as z:
        z.writestr("audio/rain_long.wav", wav_bytes(np.random.default_rng(0).normal(0, 0.2, 44100 * 2)))
    (files / "opensfx.cat").write_bytes(cat_bytes([("Cow_moo.wav", wav_bytes(tone(200, 0.8))),
                                                   ("Cow_low.wav", wav_bytes(tone(150, 0.9)))]))
    (pkg / "DEBIAN").mkdir()
    (pkg / "DEBIAN/control").write_text(f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
                                        "Maintainer: t <t@t>\nDescription: t\n")
    deb = root / f"{name}_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(pkg), str(deb)], check=True, capture_output=True)
    return deb


RULES = [("test-sounds", re.compile(p), leaf) for p, leaf in [
    (r"dog_", "dog"), (r"silence|short|junk", "dog"), (r"sounds\.zip/audio/rain", "rain"), (r"opensfx\.cat/.*Cow", "cattle"),
    (r"ignored", "-")]]


class Corpus(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = Path(self.tmp.name)
        self.deb = make_deb(self.root)
        self.pkg = {"name": "test-sounds", "version": "1.0-1", "sha256": build.sha256_file(self.deb), "license": "CC0"}

    def tearDown(self):
        self.tmp.cleanup()

    def run_package(self):
        return build.process_package(self.pkg, self.deb, RULES, self.root / "audio", self.root / "stamps")

    def test_unpacks_labels_decodes_and_drops_silence(self):
        rows, stats = self.run_package()
        by_path = {r["path"].split("test/")[1]: r for r in rows}
        self.assertEqual(sorted(by_path), ["dog_bark_01.wav", "dog_bark_02.wav", "dog_copy.wav",
                                           "opensfx.cat/000_Cow_moo.wav", "opensfx.cat/001_Cow_low.wav",
                                           "sounds.zip/audio/rain_long.wav"])
        self.assertEqual(by_path["sounds.zip/audio/rain_long.wav"]["leaf"], "rain")
        self.assertEqual(by_path["opensfx.cat/000_Cow_moo.wav"]["leaf"], "cattle")
        self.assertEqual(stats["silent"], 2)  # silence.wav and the 0.1 s file
        self.assertEqual(len(stats["undecodable"]), 1)
        # 16 kHz, peak-normalised, the duration kept.
        x = np.load(self.root / "audio" / f"{by_path['dog_bark_02.wav']['id']}.npy")
        self.assertEqual(x.dtype, np.int16)
        self.assertAlmostEqual(len(x) / 16000, 1.2, delta=0.03)
        self.assertAlmostEqual(np.abs(x).max() / 32767, 0.9, delta=0.01)
        spec = np.abs(np.fft.rfft(x.astype(np.float64)))
        self.assertAlmostEqual(np.argmax(spec) * 16000 / len(x), 660, delta=2)
        self.assertFalse(list(self.root.glob("audio/.partial-*")) + list(self.root.glob(".partial-*")))

    def test_a_second_run_reads_nothing_again(self):
        rows, _ = self.run_package()
        with mock.patch.object(build, "package_files", side_effect=AssertionError("read again")):
            again, _ = self.run_package()
        self.assertEqual(rows, again)

    def test_duplicates_are_found_across_rates(self):
        rows, _ = self.run_package()
        dd = build.Dedup()
        found = []
        for r in sorted(rows, key=lambda r: r["path"]):
            q = np.load(self.root / "audio" / f"{r['id']}.npy")
            who = dd.find(build.hashlib.sha256(q.tobytes()).hexdigest(), q)
            if who is None:
                dd.add(build.hashlib.sha256(q.tobytes()).hexdigest(), q, r["path"])
            else:
                found.append((r["path"].split("/")[-1], who.split("/")[-1]))
        self.assertEqual(found, [("dog_copy.wav", "dog_bark_01.wav")])

    def test_a_hash_mismatch_stops_naming_the_package_and_keeps_nothing(self):
        debs = self.root / "debs"
        bad = dict(self.pkg, sha256="0" * 64)

        def fake_download(cmd, cwd, **kw):
            (Path(cwd) / self.deb.name).write_bytes(self.deb.read_bytes())
            return subprocess.CompletedProcess(cmd, 0, "", "")

        err = io.StringIO()
        with mock.patch.object(build.subprocess, "run", side_effect=fake_download), mock.patch("sys.stderr", err):
            with self.assertRaises(SystemExit) as e:
                build.fetch(bad, debs)
        self.assertEqual(e.exception.code, 1)
        self.assertIn("test-sounds=1.0-1", err.getvalue())
        self.assertIn("does not match the lock", err.getvalue())
        self.assertEqual(list(debs.iterdir()), [])

    def test_a_package_that_cannot_be_unpacked_stops_the_build(self):
        broken = self.root / "broken_1.0-1_all.deb"
        broken.write_bytes(b"!<arch>\nnot really a package")
        err = io.StringIO()
        with mock.patch("sys.stderr", err), self.assertRaises(SystemExit):
            pkg = dict(self.pkg, name="broken")
            build.process_package(pkg, broken, [("broken", re.compile("."), "dog")], self.root / "audio", self.root / "stamps")
        self.assertIn("broken_1.0-1_all.deb", err.getvalue())
        self.assertFalse((self.root / "stamps" / "broken.json").exists())

    def test_the_split_holds_out_whole_packages(self):
        onto = {"leaves": {"dog": {"parents": ["animal"]}}, "parents": {"animal": {"name": "animal"}}}
        rows = [{"package": p, "path": f"x/{p}_{i}.wav", "leaf": "dog", "seconds": s}
                for p, n, s in [("a", 6, 10.0), ("b", 2, 10.0), ("c", 1, 5.0)] for i in range(n)]
        split.assign(rows, onto)
        test = {r["package"] for r in rows if r["split"] == "test"}
        self.assertEqual(test, {"b"})  # 20 s of 85: the share closest to a quarter
        self.assertTrue(all(r["split"] == "train" for r in rows if r["package"] != "b"))

    def test_one_package_holds_out_whole_groups(self):
        onto = {"leaves": {"x": {"parents": ["p"]}}, "parents": {"p": {"name": "p"}}}
        rows = [{"package": "a", "path": f"d/{g}_{i:02d}.ogg", "leaf": "x", "seconds": 1.0} for g in "klmnop" for i in range(5)]
        split.assign(rows, onto)
        held = {r["group"] for r in rows if r["split"] == "test"}
        train = {r["group"] for r in rows if r["split"] == "train"}
        self.assertTrue(held and train and not held & train)


if __name__ == "__main__":
    unittest.main()
