"""Cleaning rules on tricky Korean text (pure functions, no Ray)."""

from __future__ import annotations

import pytest

from baton_jobs import text as T


def clean(s: str, **kw) -> str:
    return T.clean_text(s, T.CleanConfig(**kw)).text


# --------------------------------------------------------------------------- Unicode & jamo


def test_full_width_forms_become_ascii():
    assert clean("ＡＩ　모델은　１００％　정확하지　않다！") == "AI 모델은 100% 정확하지 않다!"


def test_compatibility_jamo_are_kept_not_composed():
    # Plain NFKC would turn "ㅎㅏ" into the syllable "하" and ㅋ into a conjoining letter.
    assert clean("ㅎㅏㄴㄱㅡㄹ 풀어쓰기") == "ㅎㅏㄴㄱㅡㄹ 풀어쓰기"
    assert clean("진짜 웃기다 ㅋㅋ") == "진짜 웃기다 ㅋㅋ"
    assert all(not (0x1100 <= ord(c) <= 0x11FF) for c in clean("ㄱㄴㄷ ㅏㅑㅓ"))


def test_half_width_hangul_letters_become_compatibility_jamo():
    assert T.normalize_unicode("\uffa1\uffa4\uffa7") == "ㄱㄴㄷ"


def test_decomposed_hangul_is_composed():
    decomposed = "\u1112\u1161\u11ab\u1100\u1173\u11af"  # 한글 as conjoining jamo (NFD)
    assert clean(decomposed + " 입니다") == "한글 입니다"


def test_leftover_conjoining_jamo_become_compatibility_jamo():
    assert T.normalize_unicode("\u1100 \u1161") == "ㄱ ㅏ"


def test_circled_and_parenthesised_hangul_are_sensible():
    assert T.normalize_unicode("㉠") == "ㄱ"
    assert T.normalize_unicode("㈀") == "(ㄱ)"


def test_syllables_round_trip_unchanged():
    sentence = "훈민정음 해례본은 유네스코 세계기록유산으로 등재되어 있다."
    assert clean(sentence) == sentence


def test_typographic_quotes_dashes_and_ellipsis():
    assert clean("“큰따옴표” ‘작은따옴표’ — 대시… 끝") == "\"큰따옴표\" '작은따옴표' - 대시... 끝"
    assert clean("「인용」과 『책』 그리고 물결표～") == "\"인용\"과 \"책\" 그리고 물결표~"


# --------------------------------------------------------------------------- controls & markup


def test_control_and_zero_width_characters_are_removed():
    assert clean("\ufeff안\u200b녕\u0007하\u00ad세\u200d요\u000b!\r\n") == "안녕하세요!"


def test_hangul_filler_is_removed():
    assert clean("빈\u3164칸 문자") == "빈칸 문자"


def test_html_tags_entities_and_scripts():
    raw = '<div class="post"><script>var x = "광고";</script><p>안녕하세요&nbsp;반갑습니다&#33;</p><!-- ad --><br/>또 만나요</div>'
    assert clean(raw) == "안녕하세요 반갑습니다! 또 만나요"


def test_double_escaped_markup():
    assert clean("&amp;lt;b&amp;gt;굵은 글씨&amp;lt;/b&amp;gt; &amp;quot;인용&amp;quot;") == '굵은 글씨 "인용"'


def test_numeric_entities_for_hangul():
    assert clean("&#54620;&#xAE00; 엔티티") == "한글 엔티티"


def test_urls_are_dropped_unless_asked():
    assert clean("자세한 내용은 https://example.com/a?b=1 참고") == "자세한 내용은 참고"
    assert "example.com" in clean("자세한 내용은 www.example.com 참고", drop_urls=False)


def test_less_than_in_prose_is_not_a_tag():
    assert clean("3 < 5 이고 7 > 2 이다") == "3 5 이고 7 2 이다"


# --------------------------------------------------------------------------- characters kept


def test_emoji_and_pictographs_are_removed_between_words():
    assert clean("오늘 날씨 최고 😀👍 ✨ 산책 가자 ❤️") == "오늘 날씨 최고 산책 가자"
    assert clean("★★★ 별점 ☆☆") == "별점"


def test_sentence_punctuation_is_kept():
    s = "정말요? 네, 그렇습니다! (참고: 2024년 기준; 약 30% - 예외 있음) \"인용\" '작은'"
    assert clean(s) == s


def test_meaningful_symbols_are_kept():
    assert clean("가격은 ￦10,000 (50% 할인) / 2+1 행사 #이벤트 & 혜택") == "가격은 ₩10,000 (50% 할인) / 2+1 행사 #이벤트 & 혜택"


def test_mixed_scripts_keep_latin_and_drop_others():
    assert clean("Python으로 pandas DataFrame을 만든다") == "Python으로 pandas DataFrame을 만든다"
    assert clean("오늘은 今日は 좋은 날 день") == "오늘은 좋은 날"
    assert clean("café와 naïve 같은 단어") == "café와 naïve 같은 단어"


def test_hanja_dropped_by_default_kept_on_request():
    assert clean("大韓民國(대한민국)의 수도") == "(대한민국)의 수도"
    assert clean("大韓民國(대한민국)의 수도", keep_hanja=True) == "大韓民國(대한민국)의 수도"


def test_empty_brackets_left_by_removed_content_go():
    assert clean("결과 (😀) 입니다 []") == "결과 입니다"


# --------------------------------------------------------------------------- folding


def test_repeats_fold_to_three_but_digits_never():
    assert clean("ㅋㅋㅋㅋㅋㅋㅋ 대박!!!!!! 와......") == "ㅋㅋㅋ 대박!!! 와..."
    assert clean("인구는 1000000명") == "인구는 1000000명"


def test_whitespace_is_folded():
    assert clean("  여러   칸의\t\t공백과\n\n줄바꿈  ") == "여러 칸의 공백과 줄바꿈"


def test_space_before_closing_punctuation_is_removed():
    assert clean("안녕하세요 ! 반가워요 .") == "안녕하세요! 반가워요."


# --------------------------------------------------------------------------- PII


@pytest.mark.parametrize(
    "phone",
    [
        "010-1234-5678", "010 1234 5678", "01012345678", "010.1234.5678", "011-123-4567",
        "02-123-4567", "(02) 1234-5678", "031-123-4567", "064-712-3456", "070-1234-5678",
        "+82-10-1234-5678", "+82 10 1234 5678", "1588-1234", "1661-0000",
    ],
)
def test_korean_phone_numbers_are_masked(phone):
    result = T.clean_text(f"연락처 {phone} 으로 주세요")
    assert result.text == "연락처 [PHONE] 으로 주세요"
    assert result.phones == 1


@pytest.mark.parametrize(
    "not_phone",
    ["1600-1700년 사이", "인구 51,000,000명", "2024-05-01 기준", "주문번호 1234567", "1588년에 지어졌다"],
)
def test_numbers_that_are_not_phones_stay(not_phone):
    assert "[PHONE]" not in clean(not_phone)


@pytest.mark.parametrize("email", ["hong.gildong@example.co.kr", "kim_99+tag@mail.example.org", "A1@b.io"])
def test_emails_are_masked(email):
    result = T.clean_text(f"메일은 {email} 로 보내세요.")
    assert result.text == "메일은 [EMAIL] 로 보내세요."
    assert result.emails == 1


def test_full_width_email_is_masked_after_normalisation():
    assert clean("메일 ｈｏｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ 으로") == "메일 [EMAIL] 으로"


def test_masking_can_be_turned_off():
    out = clean("전화 010-1234-5678 메일 a@example.com", mask_pii=False)
    assert "[PHONE]" not in out and "[EMAIL]" not in out
    assert "010-1234-5678" in out and "a@example.com" in out


# --------------------------------------------------------------------------- filters


def test_hangul_word_ratio():
    assert T.hangul_word_ratio("Python으로 pandas DataFrame을 만든다") == 0.75
    assert T.hangul_word_ratio("This is English only") == 0.0
    assert T.hangul_word_ratio("[PHONE] 으로 연락") == 1.0
    assert T.hangul_word_ratio("12345 !!!") == 0.0


def test_repetition_ratio():
    assert T.repetition_ratio("광고 " * 50) > 0.9
    assert T.repetition_ratio("한국의 전통 가옥인 한옥은 온돌과 마루를 함께 갖추어 사계절을 나기에 알맞다.") == 0.0
    assert T.repetition_ratio("짧은 문장 짧은 문장") == 0.0  # too short to judge


def test_length_filter():
    assert not T.length_ok("짧다", 10, 100)
    assert T.length_ok("이 문장은 열 글자가 넘는다", 10, 100)
    assert not T.length_ok("가" * 101, 10, 100)


# --------------------------------------------------------------------------- dedup


def test_shingles_ignore_spacing_and_case():
    assert T.shingles("안녕 하세요", 3) == T.shingles("안녕하세요", 3)
    assert T.shingles("ABC def", 3) == T.shingles("abcdef", 3)


def test_minhash_estimates_jaccard():
    h = T.MinHasher(num_perm=128, k=3)
    a = "대규모 언어 모델은 다음에 올 토큰을 예측하는 방식으로 문장을 생성한다."
    b = "대규모 언어 모델은 다음에 올 토큰을 예측하는 방식으로 문장을 만들어 낸다."
    exact = T.jaccard(T.shingles(a, 3), T.shingles(b, 3))
    estimate = T.signature_similarity(h.signature(a), h.signature(b))
    assert abs(exact - estimate) < 0.15
    assert T.signature_similarity(h.signature(a), h.signature(a)) == 1.0


def test_minhash_is_deterministic_across_instances():
    s = "같은 문장은 언제나 같은 서명을 가진다."
    assert (T.MinHasher().signature(s) == T.MinHasher().signature(s)).all()


def test_near_duplicates_keep_the_longest_and_leave_distinct_texts():
    h = T.MinHasher()
    texts = {
        "a": "제주도는 화산섬이라서 곳곳에 오름과 용암 동굴이 있다.",
        "b": "제주도는화산섬이라서 곳곳에 오름과 용암 동굴이 있다.",  # spacing variant
        "c": "제주도는 화산섬이라서 곳곳에 오름과 용암 동굴이 있다. 정말 그렇다.",  # reaction added
        "d": "김치찌개는 잘 익은 김치와 돼지고기를 함께 볶은 뒤 끓인다.",
    }
    dropped = T.near_duplicates([(k, len(v), h.signature(v)) for k, v in texts.items()])
    assert dropped == {"a": "c", "b": "c"}


def test_clusters_from_pairs_are_transitive_and_order_free():
    lengths = {"a": 5, "b": 9, "c": 7, "x": 1, "y": 1}
    first = T.clusters_from_pairs([("a", "b"), ("b", "c"), ("x", "y")], lengths)
    second = T.clusters_from_pairs([("y", "x"), ("c", "b"), ("b", "a")], lengths)
    assert first == second == {"a": "b", "c": "b", "y": "x"}


def test_band_keys_and_bucket_pairs():
    h = T.MinHasher(num_perm=64)
    sig = h.signature("같은 문장")
    keys = T.band_keys(sig, 16)
    assert len(keys) == 16 and len(set(keys)) == 16
    with pytest.raises(ValueError):
        T.band_keys(sig, 10)
    pairs = T.bucket_pairs([("x", sig), ("y", sig), ("z", h.signature("전혀 다른 내용의 긴 문장"))], 0.9)
    assert [(a, b) for a, b, _ in pairs] == [("x", "y")]
