"""Sources for tss-small: real recordings from Debian packages (gcompris-qt-data,
sound-theme-freedesktop, alsa-utils), speech synthesised by espeak-ng (English, German, French,
Spanish, Russian, Mandarin voices), and music rendered by fluidsynth from MIDI written here.
Never used: the packages and voices reserved for held-out evaluation (oxygen-sounds, sound-icons,
tuxpaint-data, timgm6mb-soundfont; espeak-ng Italian, Portuguese, Polish, Dutch).

Every source becomes 16 kHz mono float32. Each long recording is split in time: its last 20 %
goes to the test split, the rest to training — test clips are never heard in training. The real
human voice recordings (alsa-utils) are test-only; training speech is synthetic.

`build(cache)` writes cache/sources/{train,test}/<class>/<name>.npy and returns the class table.
"""

import random
import struct
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rcc import Rcc  # noqa: E402

RATE = 16000
RCC = Path("/usr/share/gcompris-qt/rcc")
FREEDESKTOP = Path("/usr/share/sounds/freedesktop/stereo")
ALSA = Path("/usr/share/sounds/alsa")
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
RESERVED = ("oxygen", "sound-icons", "tuxpaint", "timgm6mb")
ESPEAK_VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-029", "de", "fr-fr", "es", "es-419", "ru", "cmn"]
HELD_OUT_VOICES = ("it", "pt", "pl", "nl")

# class -> (training phrasings, phrasings kept out of training: the "unseen" set)
PHRASES = {
    "dog": (["dog barking", "a dog", "the dog", "barking", "a barking dog", "dog bark", "dogs barking", "woof woof",
             "a dog barks", "the barking of a dog", "loud barking", "a hound"],
            ["canine barking", "a puppy yapping", "bark of a pet dog"]),
    "cat": (["cat meowing", "a cat", "the cat", "meow", "meowing", "a cat meows", "kitty", "cat sounds", "a kitten"],
            ["feline meowing", "a pussycat mewing"]),
    "cow": (["cow mooing", "a cow", "the cow", "moo", "mooing", "cattle", "a cow moos", "cows"],
            ["a bull lowing", "moo of a dairy cow"]),
    "sheep": (["sheep bleating", "a sheep", "the sheep", "baa", "bleating", "a lamb", "sheep sounds"],
              ["a flock of ewes", "bleat of a lamb"]),
    "horse": (["horse neighing", "a horse", "the horse", "neigh", "neighing", "a horse whinnies", "whinnying"],
              ["a pony", "a stallion whinnying"]),
    "duck": (["duck quacking", "a duck", "the duck", "quack", "quacking", "ducks"], ["a mallard", "waterfowl quacking"]),
    "pig": (["pig oinking", "a pig", "the pig", "oink", "grunting pig", "pigs"], ["a hog grunting", "swine"]),
    "owl": (["owl hooting", "an owl", "the owl", "hoot", "hooting", "owl calls"], ["a night bird hooting", "hoot of an owl at night"]),
    "chickens": (["chickens clucking", "a chicken", "hens", "clucking", "the chickens", "poultry", "a rooster"],
                 ["a hen cackling", "barnyard fowl"]),
    "rain": (["rain", "rain falling", "the rain", "raindrops", "rainfall", "heavy rain", "rain in the garden", "rainy weather"],
             ["a downpour", "drizzle on leaves"]),
    "frogs": (["frogs croaking", "frogs", "a frog", "croaking", "frogs in a pond", "toads"], ["amphibians calling", "ribbit"]),
    "applause": (["applause", "clapping", "people clapping", "an audience applauding", "hand clapping", "the applause"],
                 ["a crowd cheering and clapping", "ovation"]),
    "train": (["train", "a train", "the train", "a train passing", "train slowing down", "railway", "train noise"],
              ["a locomotive", "a railroad car rolling by"]),
    "car": (["car", "a car", "car engine", "an engine", "traffic", "a car driving", "engine noise", "motor"],
            ["an automobile", "a vehicle idling"]),
    "water": (["water", "running water", "splashing water", "water pouring", "bubbling water", "a tap running"],
              ["a stream", "liquid gurgling"]),
    "machine": (["factory noise", "machinery", "machines", "a machine", "industrial noise", "mechanical noise"],
                ["a workshop with equipment", "an assembly line"]),
    "bell": (["bell", "a bell", "the bell", "gong", "a gong", "ringing bell", "bells ringing", "church bell"],
             ["chimes", "a temple bell"]),
    "phone": (["phone ringing", "the phone", "a telephone", "telephone ringing", "phone call", "the phone rings"],
              ["a ringtone", "an incoming call"]),
    "alarm": (["alarm", "alarm clock", "an alarm", "the alarm going off", "alarm beeping", "beeping"],
              ["a buzzer going off", "a wake-up signal"]),
    "speech": (["speech", "a person talking", "voice", "someone speaking", "talking", "a man speaking", "a woman speaking",
                "people talking", "the speaker", "spoken words", "the voice", "narration"],
               ["a human voice", "dialogue", "somebody saying something"]),
    "music": (["music", "a melody", "piano", "guitar", "violin", "instrumental music", "a song", "the music", "musical instruments",
               "an orchestra", "drums", "flute"],
              ["a tune", "a piece of classical music", "a musician playing"]),
}

# gcompris bundles: (bundle, file name, class)
GCOMPRIS = [
    ("explore_farm_animals", "dog.ogg", "dog"), ("memory-sound", "LRBark_1_LA_cut.ogg", "dog"),
    ("memory-sound", "LRBark_3_LA_cut.ogg", "dog"),
    ("explore_farm_animals", "cat.ogg", "cat"), ("explore_farm_animals", "cow.ogg", "cow"),
    ("explore_farm_animals", "sheep.ogg", "sheep"), ("explore_farm_animals", "horse.ogg", "horse"),
    ("explore_farm_animals", "duck.ogg", "duck"), ("explore_farm_animals", "pig.ogg", "pig"),
    ("explore_farm_animals", "owl.ogg", "owl"), ("explore_farm_animals", "chickens.ogg", "chickens"),
    ("memory-sound", "LRRain_in_garden_01_LA_cut.ogg", "rain"),
    ("memory-sound", "LRFrogsInPondDuringStormLACut.ogg", "frogs"),
    ("memory-sound", "LRApplauses_1_LA_cut.ogg", "applause"),
    ("memory-sound", "LRTrain_slowing_down_01_LA_cut.ogg", "train"), ("railroad", "train.wav", "train"),
    ("memory-sound", "LRStartAndStopCarEngine1LACut.ogg", "car"), ("traffic", "car.wav", "car"),
    ("core", "water.wav", "water"), ("canal_lock", "water_fill.wav", "water"), ("watercycle", "harbor1.wav", "water"),
    ("watercycle", "harbor2.wav", "water"),
    *[("memory-sound", f"LRFactory_noise_0{i}_LA.ogg", "machine") for i in range(1, 7)],
    ("memory-sound", "LRBuddhist_gong_05_LA.ogg", "bell"), ("memory-sound", "LRRing_01_LA.ogg", "bell"),
    *[("instruments", f"{n}.ogg", "music") for n in ["piano", "violin", "cello", "guitar", "electric_guitar", "flute_traversiere",
                                                     "clarinet", "saxophone", "trumpet", "harp", "organ", "accordion", "banjo",
                                                     "drum_kit", "harmonica", "tuba", "trombone", "horn", "timpani", "bongo"]],
    *[("explore_world_music", f"{n}.ogg", "music") for n in ["australia", "japan", "middleeast", "italy", "ireland",
                                                             "beethoven", "america", "africa", "mexico"]],
]
FREEDESKTOP_FILES = [("phone-incoming-call.oga", "phone"), ("phone-outgoing-calling.oga", "phone"),
                     ("phone-outgoing-busy.oga", "phone"), ("alarm-clock-elapsed.oga", "alarm"), ("bell.oga", "bell"),
                     ("window-attention.oga", "alarm")]
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.", "Please call me back when you get this message.",
    "The weather today is cloudy with a chance of rain.", "I will meet you at the station at nine o'clock.",
    "Turn left at the next corner and then go straight ahead.", "This recording is part of a test of the system.",
    "We need to buy milk, bread and some fresh vegetables.", "The meeting has been moved to Thursday afternoon.",
    "She sells sea shells by the sea shore.", "Can you hear me clearly now?", "Good morning, how are you today?",
    "The train to the city leaves every twenty minutes.", "Der Zug fährt um acht Uhr ab.", "Bonjour, comment allez-vous?",
    "Hola, ¿cómo estás hoy?", "Привет, как дела?", "你好，今天天气很好。", "Ich habe heute keine Zeit.",
    "Il fait beau aujourd'hui.", "Me gusta mucho esta ciudad.",
]


def to_16k_mono(src: Path, dst_wav: Path) -> np.ndarray:
    subprocess.run(["sox", str(src), "-r", str(RATE), "-c", "1", "-b", "16", str(dst_wav)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with wave.open(str(dst_wav)) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0
    return x


def trim_silence(x: np.ndarray, floor: float = 1e-3) -> np.ndarray:
    idx = np.flatnonzero(np.abs(x) > floor)
    return x[idx[0]:idx[-1] + 1] if len(idx) else x


def midi_file(path: Path, program: int, seed: int) -> None:
    """A short random melody with chords (format 0, one track) on GM `program`."""
    rnd = random.Random(seed)
    events = bytearray()

    def delta(t):
        out = [t & 0x7F]
        t >>= 7
        while t:
            out.insert(0, (t & 0x7F) | 0x80)
            t >>= 7
        return bytes(out)

    events += delta(0) + bytes([0xC0, program])
    scale = [0, 2, 4, 5, 7, 9, 11, 12]
    root = rnd.choice([48, 53, 55, 57, 60])
    for _ in range(24):
        notes = [root + rnd.choice(scale)]
        if rnd.random() < 0.4:
            notes.append(notes[0] + 4)
        dur = rnd.choice([120, 240, 240, 480])
        for i, n in enumerate(notes):
            events += delta(0) + bytes([0x90, n, rnd.randint(70, 110)])
        for i, n in enumerate(notes):
            events += delta(dur if i == 0 else 0) + bytes([0x80, n, 0])
    events += delta(0) + b"\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480)
    path.write_bytes(header + b"MTrk" + struct.pack(">I", len(events)) + bytes(events))


def build(cache: Path) -> dict:
    for need in [RCC, FREEDESKTOP, ALSA, SOUNDFONT]:
        if not need.exists():
            sys.exit(f"{need} is missing: apt install gcompris-qt-data sound-theme-freedesktop alsa-utils "
                     "fluid-soundfont-gm fluidsynth espeak-ng sox")
    out = cache / "sources"
    done = out / ".done"
    if done.exists():
        return PHRASES
    tmp = Path(tempfile.mkdtemp())
    counts = {}

    def store(cls, name, x, split=None):
        x = trim_silence(x)
        if len(x) < RATE // 4:
            return
        if split is None:
            cut = int(len(x) * 0.8)
            parts = [("train", x[:cut]), ("test", x[cut:])]
        else:
            parts = [(split, x)]
        for s, part in parts:
            d = out / s / cls
            d.mkdir(parents=True, exist_ok=True)
            np.save(d / f"{name}.npy", part.astype(np.float32))
            counts[(s, cls)] = counts.get((s, cls), 0) + len(part)

    bundles = {}
    for bundle, fname, cls in GCOMPRIS:
        r = bundles.setdefault(bundle, Rcc(RCC / f"{bundle}.rcc"))
        entry = next(((f, o) for p, f, o in r.files() if p.endswith("/" + fname)), None)
        if entry is None:
            sys.exit(f"{fname} not found in {bundle}.rcc")
        raw = tmp / fname
        raw.write_bytes(r.read(*entry))
        store(cls, Path(fname).stem, to_16k_mono(raw, tmp / "x.wav"))
    for fname, cls in FREEDESKTOP_FILES:
        x = to_16k_mono(FREEDESKTOP / fname, tmp / "x.wav")
        store(cls, Path(fname).stem, np.tile(x, max(1, int(np.ceil(3 * RATE / len(x))))))
    # Real human voices: test only.
    for f in sorted(ALSA.glob("*.wav")):
        if f.stem != "Noise":
            store("speech", "alsa_" + f.stem, to_16k_mono(f, tmp / "x.wav"), split="test")
    # Synthetic speech: training, plus one voice held out to test.
    for vi, voice in enumerate(ESPEAK_VOICES):
        assert not voice.startswith(HELD_OUT_VOICES)
        for si in range(0, len(SENTENCES), 4):
            text = " ".join(SENTENCES[si:si + 4])
            wav = tmp / "s.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-s", str(140 + 10 * (vi % 4)), "-w", str(wav), text], check=True)
            store("speech", f"espeak_{voice}_{si}", to_16k_mono(wav, tmp / "x.wav"), split="test" if voice == "en-gb-scotland" else "train")
    # Rendered music: piano, strings, guitar, flute, organ, marimba.
    for i, program in enumerate([0, 48, 24, 73, 19, 12, 40, 56]):
        mid = tmp / f"m{i}.mid"
        midi_file(mid, program, seed=100 + i)
        wav = tmp / f"m{i}.wav"
        subprocess.run(["fluidsynth", "-ni", "-g", "0.8", "-r", str(RATE), "-F", str(wav), str(SOUNDFONT), str(mid)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        store("music", f"midi_{program}", to_16k_mono(wav, tmp / "x.wav"), split="test" if i == 7 else "train")
    for (s, cls), n in sorted(counts.items()):
        print(f"  {s:5} {cls:9} {n / RATE:6.1f} s")
    missing = [c for c in PHRASES if (("train", c) not in counts or ("test", c) not in counts)]
    if missing:
        sys.exit(f"classes without train or test audio: {missing}")
    done.write_text("ok\n")
    return PHRASES
