"""Builds data/corpus.jsonl, the raw (noisy) Korean corpus, from data/sentences.txt.

Deterministic (fixed seed): re-running it rewrites the same file. Every sentence in
sentences.txt was written for this project; the noise below imitates what web-scraped
Korean text looks like (markup, entities, control and zero-width characters, full-width
forms, emoji, repeated jamo, duplicates and near-duplicates, e-mail addresses and phone
numbers, lines in other scripts), so that the preprocess stage has something to remove.

    python data/make_corpus.py            # from jobs/
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20240611

EMOJI = ["😀", "👍", "🔥", "❤️", "✨", "🙏", "😂", "🎉", "☕", "🌸", "👀", "💯"]
TAILS = ["ㅋㅋㅋㅋㅋ", "ㅎㅎ", "ㅠㅠㅠㅠ", "!!!!!!", "~~~", "...", " ^^", " :)"]
SOURCES = ["blog", "forum", "news", "cafe", "review", "qna"]

HTML_WRAPS = [
    "<p>{}</p>",
    '<div class="post-body">{}<br/></div>',
    '<span style="color:#333">{}</span>',
    "<li>{}</li>",
    "<p>{}</p><!-- ad slot 3 -->",
    '<script type="text/javascript">var x = "광고";</script><p>{}</p>',
    "<h2>오늘의 글</h2>\n<p>{}</p>",
    "<td>{}</td>",
    '<a href="https://example.com/post/12">{}</a>',
    "<b>{}</b>&nbsp;&nbsp;",
]

PII_TEMPLATES = [
    "문의 사항은 {email} 로 보내 주시거나 {phone} 으로 전화 주세요.",
    "담당자 연락처: {phone} (평일 오전 9시~오후 6시)",
    "자세한 내용은 {email} 에 메일로 문의 바랍니다.",
    "예약 문의 {phone} / 카카오톡 채널에서도 상담 가능합니다.",
    "중고 거래 원합니다. 연락은 {phone} 문자 주세요 ㅎㅎ",
    "이력서는 {email} 로 제출해 주시기 바랍니다. 마감은 이번 주 금요일입니다.",
    "분실물을 찾으신 분은 {phone} 번으로 연락 부탁드립니다.",
    "고객센터 대표번호는 {rep} 이며 상담원 연결은 0번을 누르세요.",
    "본사 전화 {landline}, 팩스 {landline2} 입니다.",
    "해외에서는 {intl} 로 전화하시면 됩니다.",
]
NAMES = ["hong.gildong", "kim_minsu", "lee.jiyeon", "park-seojun", "choi99", "jung.haneul", "yoon.ara", "kang.dohyun"]
DOMAINS = ["example.com", "example.co.kr", "mail.example.org", "test.example.net"]

OTHER_SCRIPT = [
    "This sentence is written entirely in English and should be filtered out.",
    "Click here to subscribe to our newsletter for more updates!",
    "今日はとても良い天気ですね。散歩に行きましょう。",
    "これは日本語の文章なので除外されるべきです。",
    "Это предложение написано на русском языке.",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
    "这是一个中文句子，不应该出现在韩语语料中。",
    "Home | About | Contact | Privacy Policy | Terms of Service",
]
JUNK = [
    "ㅋㅋ",
    "<br><br>",
    "😀😀😀👍👍",
    "&nbsp;&nbsp;&nbsp;",
    "...",
    "네",
    "<div></div>",
    "\u200b\u200b\u200b",
    "ㅇㅇ",
    "1234567",
    "★★★★★ ☆☆☆",
    "▶ 더보기",
]
MIXED = [
    "大韓民國의 수도는 서울이며 정부 청사는 세종에도 있다.",
    "이번 Q3 실적 발표에서 AI 반도체 매출이 前年 대비 40% 늘었다.",
    "BTS의 새 앨범이 Billboard 200 차트 1위에 올랐다는 news가 나왔다.",
    "Docker 컨테이너 안에서 Python 3.11로 테스트를 돌렸다.",
    "오늘 점심은 pasta 대신 김치볶음밥을 먹었다 (가성비 최고).",
    "회의 자료는 PDF로 공유하고, 회의록은 Notion에 정리해 주세요.",
]
LONG_NOISE = "광고 " * 800  # a very long line: dropped by the length filter


def fullwidth(text: str) -> str:
    out = []
    for ch in text:
        if ch == " ":
            out.append("\u3000")
        elif "!" <= ch <= "~":
            out.append(chr(ord(ch) + 0xFEE0))
        else:
            out.append(ch)
    return "".join(out)


def add_controls(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 3)):
        pos = rng.randrange(1, max(2, len(chars)))
        chars.insert(pos, rng.choice(["\u200b", "\ufeff", "\x07", "\u00ad", "\u200d", "\x0b"]))
    return ("\ufeff" if rng.random() < 0.3 else "") + "".join(chars) + rng.choice(["", "\t", "\r\n", "  \n"])


def add_entities(text: str) -> str:
    return text.replace(" ", "&nbsp;", 2).replace(",", "&#44;").replace("다.", "다&#46;")


def near_variant(rng: random.Random, text: str) -> str:
    kind = rng.randrange(4)
    if kind == 0:  # spacing differences (띄어쓰기)
        words = text.split(" ")
        if len(words) > 3:
            i = rng.randrange(len(words) - 1)
            words[i] = words[i] + words.pop(i + 1)
        return " ".join(words)
    if kind == 1:  # a reaction appended
        return text + " " + rng.choice(["정말 그렇다.", "공감합니다!", "저도 그렇게 생각해요.", "좋은 정보 감사합니다."])
    if kind == 2:  # punctuation and emoji
        return text.rstrip(".") + rng.choice(["!!", "~", "... " + rng.choice(EMOJI), " ㅎㅎ"])
    # an adverb inserted
    words = text.split(" ")
    i = rng.randrange(1, max(2, len(words)))
    words.insert(i, rng.choice(["정말", "아주", "요즘", "특히", "대체로"]))
    return " ".join(words)


def phone(rng: random.Random) -> str:
    mid, last = rng.randint(1000, 9999), rng.randint(1000, 9999)
    fmt = rng.choice(["010-{m}-{l}", "010 {m} {l}", "010{m}{l}", "010.{m}.{l}", "011-{m3}-{l}"])
    return fmt.format(m=mid, l=last, m3=rng.randint(100, 999))


def build(rng: random.Random) -> list[dict]:
    sentences = [s.strip() for s in (HERE / "sentences.txt").read_text(encoding="utf-8").splitlines() if s.strip()]
    lines: list[str] = []
    for s in sentences:
        r = rng.random()
        if r < 0.25:
            lines.append(rng.choice(HTML_WRAPS).format(add_entities(s) if rng.random() < 0.5 else s))
        elif r < 0.38:
            lines.append(add_controls(rng, s))
        elif r < 0.48:
            lines.append(fullwidth(s) if rng.random() < 0.5 else s.replace(" ", "\u3000", 2))
        elif r < 0.62:
            spaces = [i for i, ch in enumerate(s) if ch == " "] or [len(s)]
            pos = rng.choice(spaces)  # emoji go between words, as people type them
            lines.append(s[:pos] + " " + rng.choice(EMOJI) + s[pos:] + " " + rng.choice(TAILS))
        else:
            lines.append(s)

    # exact duplicates: verbatim repeats and copies that only differ in markup/noise
    for s in rng.sample(sentences, 20):
        lines.append(s if rng.random() < 0.5 else rng.choice(HTML_WRAPS).format(s))
    for s in rng.sample(sentences, 8):
        lines.append("  " + s + "\u200b  ")

    # near duplicates
    for s in rng.sample(sentences, 30):
        lines.append(near_variant(rng, s))

    # personal data
    for i in range(24):
        t = PII_TEMPLATES[i % len(PII_TEMPLATES)]
        lines.append(
            t.format(
                email=f"{rng.choice(NAMES)}{rng.randint(1, 99)}@{rng.choice(DOMAINS)}",
                phone=phone(rng),
                rep=rng.choice(["1588", "1577", "1544", "1661"]) + f"-{rng.randint(1000, 9999)}",
                landline=rng.choice(["02", "031", "051", "062"]) + f"-{rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
                landline2=f"(02) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
                intl=f"+82-10-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
            )
        )

    lines.extend(MIXED)
    lines.extend(OTHER_SCRIPT)
    lines.extend(JUNK)
    lines.append(LONG_NOISE.strip())
    lines.append("&lt;p&gt;이스케이프된 태그가 섞인 문장도 깨끗하게 정리되어야 한다.&lt;/p&gt;")
    lines.append("&amp;lt;b&amp;gt;두 번 이스케이프된&amp;lt;/b&amp;gt; 태그와 &amp;quot;따옴표&amp;quot;도 정리된다.")
    lines.append("ﾊﾝｸﾞﾙ 반각 문자와 ﾡﾤﾷ 반각 자모가 섞여 있어도 자모는 ㄱㄴㄷ처럼 남아야 한다.")
    lines.append("ㅎㅏㄴㄱㅡㄹ 처럼 풀어 쓴 자모는 한 글자로 합쳐지지 않아야 한다.")
    lines.append("“큰따옴표”와 ‘작은따옴표’, 그리고 줄임표…와 물결표～도 정리되어야 한다.")
    lines.append("①번 항목과 ②번 항목은 ㈜한국상사의 ㎏ 단위 재고를 뜻한다.")

    rng.shuffle(lines)
    return [{"id": f"doc-{i:04d}", "source": rng.choice(SOURCES), "text": text} for i, text in enumerate(lines)]


def main() -> None:
    rows = build(random.Random(SEED))
    out = HERE / "corpus.jsonl"
    with out.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} documents to {out}")


if __name__ == "__main__":
    main()
