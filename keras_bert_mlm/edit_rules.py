"""Minimal edits of a review, rule-based, in the spirit of CheckList (Ribeiro et al. 2020) and contrast sets
(Gardner et al. 2020): a few words change and the sentiment flips (negation, antonym, verdict), or should not
(intensifier, neutral). `edits.py` builds the probe from them and scores classifiers on it.

>>> review = "The movie was great and the acting is good. 9/10"
>>> [(e["kind"], e["text"], e["words_changed"]) for e in edits_of(review, label=1)]  # doctest: +NORMALIZE_WHITESPACE
[('negation', 'The movie was not great and the acting is not good. 2/10', 3),
 ('verdict', 'The movie was terrible and the acting is bad. 2/10', 3),
 ('intensifier', 'The movie was really great and the acting is really good. 9/10', 2),
 ('neutral', 'The film was great and the acting is good. 9/10', 1)]
>>> edits_of("A good film with a terrible ending.", label=1)  # both polarities: skipped, not guessed
[]

Why a flipped label is likely, not certain: a review is edited only when every sentiment word the rules know
points the way of its label (a negated one counting the other way), at least one per `WORDS_PER_HIT` words,
with no sentiment word they cannot flip (`UNFLIPPABLE`, a negator they cannot undo); and the edit flips every
one of them, ratings ("8/10" -> "3/10", the figure IMDB's labels come from) and recommendations included.
Praise or blame in words the lexicon lacks ("a real jewel") survives: on whole IMDB reviews most flipped edits
read mixed, on their evaluative sentences (`edits.excerpt`) about half read as the new label (docs/experiments.md).
The keeping edits' labels hold.
"""

import difflib
import re

# Antonym pairs (positive, negative), adjectives unless listed in VERBS. Each word in one pair only.
PAIRS = [("good", "bad"), ("great", "terrible"), ("best", "worst"), ("excellent", "poor"), ("wonderful", "awful"),
         ("brilliant", "dreadful"), ("superb", "lousy"), ("fantastic", "horrible"), ("amazing", "pathetic"),
         ("beautiful", "ugly"), ("gripping", "boring"), ("entertaining", "tedious"), ("enjoyable", "unwatchable"),
         ("masterpiece", "disaster"), ("loved", "hated"), ("liked", "disliked"), ("enjoyed", "detested"),
         ("awesome", "crappy"), ("perfect", "flawed"), ("funny", "unfunny"), ("terrific", "atrocious"),
         ("outstanding", "abysmal"), ("clever", "stupid"), ("engaging", "dull"), ("charming", "annoying"),
         ("satisfying", "disappointing"), ("impressed", "disappointed"), ("witty", "lame"),
         ("worthwhile", "worthless"), ("powerful", "weak"), ("believable", "ridiculous")]
ANTONYM = {**dict(PAIRS), **{neg: pos for pos, neg in PAIRS}}
POLARITY = {**{pos: 1 for pos, _ in PAIRS}, **{neg: -1 for _, neg in PAIRS}}
VERBS = {"loved": "love", "hated": "hate", "liked": "like", "disliked": "dislike", "enjoyed": "enjoy",
         "detested": "detest"}  # past -> base form
NOUNS = {"masterpiece", "disaster"}
# Sentiment words with no clean antonym: a review holding one is skipped, as its sentiment would survive. The
# first line by hand; the rest picked by hand among the 220 words of each class that IMDB's training reviews
# tilt most towards it (naive-Bayes log-count ratio, in 60 reviews or more).
UNFLIPPABLE = set("""
waste wasted mess worse better disappointment fails failed avoid crap garbage perfectly fun enjoy favorite touching
beautifully silly unfunny stinker kudos bravo wow dreck incoherent drivel horrid pointless tripe laughable redeeming
poorly blah wasting uninspired unoriginal inane sucks miserably boredom uninteresting idiotic insipid insult
insulting embarrassment stupidity unconvincing incompetent wretched appalling dire amateurish suck laughably moronic
badly wooden pitiful useless shoddy tiresome stinks forgettable ludicrous rubbish preposterous junk incomprehensible
lackluster travesty embarrassed inept horribly muddled ashamed hackneyed ridiculously hideous horrendous nonsensical
disjointed dumb bland dreary mediocre overacting tasteless obnoxious irritating unbearable meaningless idiot asleep
clumsy dud cheap awfully painfully trite miscast cringe cheated repetitive pretentious lazy bored hopelessly rotten
trash unlikable stale sloppy sucked unrealistic flawless superbly perfection wonderfully masterful breathtaking
refreshing underrated delightful delight unforgettable extraordinary brilliantly timeless gem marvelous finest
poignant magnificent heartfelt splendid tremendous pleasantly captivating exceptional uplifting astonishing haunting
vivid remarkable stellar riveting shines elegant stunning cleverly adorable inspiring fascinating incredible
fabulous spectacular glorious greatest solid touched""".split())
VERDICTS = {"recommend", "recommended"}  # and ratings, x/10
NEGATORS = {"not", "never", "no", "nothing", "hardly", "without", "nor", "neither"}
INTENSIFIERS = {"very", "really", "so", "truly", "quite", "pretty", "too", "most", "extremely", "absolutely"}
SKIPPABLE = INTENSIFIERS | {"a", "an", "the", "just", "simply", "such"}  # between a copula and its adjective
COPULAS = {"is", "was", "are", "were", "am"}
MODALS = COPULAS | {"would", "could", "can", "will", "must", "should", "definitely"}
UNNEGATED = {"isn't": "is", "wasn't": "was", "aren't": "are", "weren't": "were", "don't": "do", "doesn't": "does",
             "didn't": "did", "wouldn't": "would", "couldn't": "could", "can't": "can", "won't": "will"}
SUBJECTS = {"i", "we", "they", "you", "he", "she"}  # "I loved" -> "I did not love"
NEUTRAL = {"movie": "film", "film": "movie", "movies": "films", "films": "movies",
           "John": "James", "James": "John", "Michael": "David", "David": "Michael", "Robert": "Richard",
           "Richard": "Robert", "Mary": "Anne", "Anne": "Mary", "Tom": "Bill", "Bill": "Tom"}
IDIOMS = {("good", "luck"), ("bad", "guy"), ("bad", "guys"), ("good", "guys"), ("best", "friend"), ("best", "friends"),
          ("best", "known"), ("great", "deal"), ("for", "good")}  # no verdict on the film: not a sentiment word
WORDS_PER_HIT = 80
TOKEN = re.compile(r"\d+(?:\.\d+)?\s*(?:/|out of)\s*10\b|[A-Za-z]+n't\b|[A-Za-z]+|<br\s*/?>|[.!?;]")
RATING = re.compile(r"(\d+(?:\.\d+)?)\s*(/|out of)\s*10\b")
FLIPS, KEEPS = ("negation", "antonym", "verdict"), ("intensifier", "neutral")


def tokens_of(text):
    """(start, end, lower-cased token) of the words, ratings ("8/10") and sentence ends of `text`."""
    return [(m.start(), m.end(), m.group().lower()) for m in TOKEN.finditer(text)]


def negator_before(tokens, i, window=3):
    """Index of the negator among the `window` tokens before token i (same sentence), else None."""
    for j in range(i - 1, max(i - window, 0) - 1, -1):
        if tokens[j][2] in (".", "!", "?", ";") or tokens[j][2].startswith("<br"):
            return None
        if tokens[j][2] in NEGATORS or tokens[j][2].endswith("n't"):
            return j
    return None


def is_verdict(token):
    return token in VERDICTS or bool(RATING.match(token))


def rating_polarity(token):
    """+1 for 7/10 and up, -1 for 4/10 and down, 0 between (a lukewarm rating: the review is skipped)."""
    value = float(RATING.match(token).group(1))
    return 1 if 7 <= value <= 10 else -1 if value <= 4 else 0


def hits_of(text):
    """The tokens of `text` that carry sentiment, as (index, polarity), and the tokens; None when a sentiment word
    is there that the rules cannot flip."""
    tokens = tokens_of(text)
    hits = []
    for i, (_, _, token) in enumerate(tokens):
        if token in UNFLIPPABLE or (token.startswith("recommend") and token not in VERDICTS):
            return None, tokens
        if token in ("love", "loves") and i and tokens[i - 1 - (tokens[i - 1][2] in INTENSIFIERS)][2] in SUBJECTS:
            return None, tokens  # "I love it" (no rule of ours flips it); "a love story" is no sentiment
        if {(token, tokens[i + 1][2] if i + 1 < len(tokens) else ""), (tokens[i - 1][2] if i else "", token)} & IDIOMS:
            continue
        if RATING.match(token):
            hits.append((i, rating_polarity(token)))
        elif token in POLARITY or token in VERDICTS:
            polarity = POLARITY.get(token, 1)  # a recommendation is positive
            hits.append((i, -polarity if negator_before(tokens, i) is not None else polarity))
    return hits, tokens


def with_case(word, like):
    """`word` capitalized as `like` is."""
    return word.upper() if like.isupper() and len(like) > 1 else word.capitalize() if like[:1].isupper() else word


def unnegate(text, tokens, i):
    """Substitutions removing the negation of token i ("not good" -> "good", "wasn't great" -> "was great",
    "don't recommend" -> "do recommend"); None when it is one the rules cannot undo ("no", "never")."""
    j = negator_before(tokens, i)
    start, end, neg = tokens[j]
    if neg == "not":
        return [(start, tokens[j + 1][0], "")]
    if neg in UNNEGATED:
        return [(start, end, with_case(UNNEGATED[neg], text[start:end]))]
    return None


def negate(text, tokens, i):
    """Substitutions negating sentiment word i, or removing its negation; None if no rule fits."""
    start, end, word = tokens[i]
    if negator_before(tokens, i) is not None:
        return unnegate(text, tokens, i)
    if word in VERBS:  # "I loved" -> "I did not love", "we really hated" -> "we really did not hate"
        k = i - 1 if i and tokens[i - 1][2] not in INTENSIFIERS else i - 2
        if k >= 0 and tokens[k][2] in SUBJECTS:
            return [(start, end, "did not " + VERBS[word])]
        return None
    k = i - 1
    while k >= 0 and tokens[k][2] in SKIPPABLE and i - k <= 3:
        k -= 1
    if k >= 0 and tokens[k][2] in COPULAS:  # "was great" -> "was not great", "is a good film" -> "is not a good film"
        return [(tokens[k][1], tokens[k][1], " not")]
    return None


def flip_verdict(text, tokens, i):
    """Substitutions flipping the verdict at token i: a rating ("8/10" -> "3/10", 11 - x) or a recommendation
    ("highly recommended" -> "not recommended", "I recommend" -> "I do not recommend", "not recommended" ->
    "recommended")."""
    start, end, word = tokens[i]
    if RATING.match(word):
        value, sep = RATING.match(word).groups()
        return [(start, end, f"{min(10, 11 - round(float(value)))}{'/' if sep == '/' else ' out of '}10")]
    if negator_before(tokens, i) is not None:
        return unnegate(text, tokens, i)
    k = i - 1 if i and tokens[i - 1][2] == "highly" else i  # "highly" gives way to the negation
    modal = k > 0 and tokens[k - 1][2] in MODALS
    new = "not " if modal or word == "recommended" else "do not "
    return [(tokens[k][0], start, with_case(new, text[tokens[k][0]:start] or text[start:end]))]


def apply(text, substitutions):
    """`text` with each (start, end, new) substitution made (they do not overlap), the article before each made
    to agree with its new word ("a wonderful" -> "an awful"); and the number of words changed (replaced,
    inserted or deleted: "loved" -> "did not love" is 3)."""
    changed = 0
    for start, end, new in sorted(substitutions, reverse=True):
        ops = difflib.SequenceMatcher(a=text[start:end].lower().split(), b=new.lower().split()).get_opcodes()
        changed += sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in ops if op != "equal")
        article = re.search(r"\b([Aa])n?(\s+)$", text[:start])
        if article and new[:1].isalpha():
            fixed = article.group(1) + ("n" if new[0].lower() in "aeiou" else "") + article.group(2)
            changed += fixed.strip() != article.group().strip()
            text = text[:article.start()] + fixed + text[start:]
            start, end = article.start() + len(fixed), end + len(fixed) - (start - article.start())
        text = text[:start] + new + text[end:]
    return text, changed


def flipping_substitutions(kind, text, tokens, hits):
    """The substitutions of a flipping edit of `kind` changing every hit, or None if one cannot be changed."""
    has_verdict = any(is_verdict(tokens[i][2]) for i, _ in hits)
    if (kind == "antonym" and has_verdict) or (kind == "verdict" and not has_verdict):
        return None  # a review with a rating is a verdict edit (its words swapped too), one without an antonym edit
    subs = []
    for i, _ in hits:
        start, end, word = tokens[i]
        if is_verdict(word):
            subs += flip_verdict(text, tokens, i) or [None]
        elif kind == "negation":
            negated = negate(text, tokens, i)
            if negated is None:
                return None
            subs += negated
        else:
            subs.append((start, end, with_case(ANTONYM[word], text[start:end])))
    return None if None in subs else subs


def keeping_substitutions(kind, text, tokens, hits):
    """The substitutions of an edit of `kind` that keeps the label, or None if it has nothing to change."""
    subs = []
    if kind == "intensifier":  # "good" -> "very good", "loved" -> "really loved"; negated words left alone
        for i, _ in hits:
            start, end, word = tokens[i]
            if word in POLARITY and word not in NOUNS and negator_before(tokens, i) is None \
                    and (i == 0 or tokens[i - 1][2] not in INTENSIFIERS):
                original = text[start:end]
                new = ("very " if word in ("best", "worst") else "really ") + (original if original.isupper()
                                                                             else original.lower())
                subs.append((start, end, with_case(new, original)))
    else:  # neutral: "this movie" -> "this film", a first name for another
        for start, end, _ in tokens:
            word = text[start:end]
            new = NEUTRAL.get(word) or NEUTRAL.get(word.lower())
            if new and (word.lower() in NEUTRAL or word[:1].isupper()):
                subs.append((start, end, with_case(new, word) if word.lower() in NEUTRAL else new))
    return subs or None


def edits_of(text, label):
    """The edits of one review (label 1 positive, 0 negative): a record {"text", "label", "kind", "flips",
    "words_changed"} per kind whose rule applies to all of it. None for a review of both polarities, too few
    sentiment words (under one per `WORDS_PER_HIT` words) or one the rules cannot flip."""
    hits, tokens = hits_of(text)
    n_words = len(text.split())
    if not hits or len(hits) * WORDS_PER_HIT < n_words or {p for _, p in hits} != {1 if label else -1}:
        return []
    records = []
    for kind in FLIPS + KEEPS:
        flips = kind in FLIPS
        subs = (flipping_substitutions if flips else keeping_substitutions)(kind, text, tokens, hits)
        if subs:
            new, changed = apply(text, subs)
            records.append({"text": new, "label": 1 - label if flips else label, "kind": kind, "flips": flips,
                            "words_changed": changed})
    return records
