"""What the recognizer hears: its 20 words, the two non-word classes, the other
English words it must call ``_unknown_``, and the sentences babble talkers read.

Classes
-------
:data:`CLASSES` is the classifier's output order: the 20 :data:`WORDS`, then
:data:`SILENCE` (background noise, no word) and :data:`UNKNOWN` (a word that
is none of the 20).  A speech model's ``speech.json`` lists its classes under
``"words"``; names between underscores are the non-word classes.

Unknown words
-------------
:data:`OTHER_WORDS` holds a few hundred common English words.  None of them is
one of the 20 words, a homophone of one (``won``, ``to``, ``too``, ``for``,
``ate``, ``know``, ``write``, ...), a near-homophone in isolation (``of``,
``an``) or a word that holds one as a spoken part (``someone``, ``upon``,
``into``, ``often``, ``today``, ``nobody``, ``going``, ``forty``, ...): such
a clip could honestly be heard as the word.  Rhymes and near misses stay in
(``tree``, ``fine``, ``heaven``, ``lift``, ``shop``, ``town``): they are what
makes the class hard.  :func:`split_other_words` holds a quarter of them out
of training (seeded), and always :data:`ALWAYS_HELD_OUT` (the issue's
example, "banana"): the ``_unknown_`` test clips are words the model never
heard, spoken by voices it never heard.
"""

from __future__ import annotations

import numpy as np

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
         "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
SILENCE = "_silence_"
UNKNOWN = "_unknown_"
CLASSES = WORDS + (SILENCE, UNKNOWN)


def classes_of(words) -> tuple:
    """The classifier's classes for a vocabulary: the words, then silence and unknown."""
    return tuple(words) + (SILENCE, UNKNOWN)


def is_word_class(name: str) -> bool:
    """False for the non-word classes (``_silence_``, ``_unknown_``)."""
    return not (name.startswith("_") and name.endswith("_"))


OTHER_WORDS = tuple("""
able about above accept across act add address afraid after again against age agree
air airport all almost along already also always amount and angry animal answer any
apple april arm army around arrive art ask attack aunt autumn avoid baby back bad bag
bake ball banana band bank bar basket bath battle beach bean bear beautiful because bed
bedroom bee beer before begin behind believe bell belt bench best better between big
bike bird birthday biscuit bit bite black blanket blind blood blow blue board boat body
boil book boot border borrow bottle bottom bowl box boy brain branch brave bread break
breakfast brick bridge bright bring brother brown brush bucket build burn bus busy
butter button buy cabbage cake call camera camp can candle cap captain car card care
carpet carrot carry castle cat catch chair chalk change cheap cheese cherry chicken
child chocolate church circle city clean clever climb clock close cloud coat coffee
cold colour comb come computer cook cool copy corner correct cost cough count country
cousin cow crazy cream cross crowd cry cup curtain cut dance danger dark daughter dawn
day dead deep deer desk dinner dirty doctor dog doll dollar door dream dress drink
drive drop drum dry duck dust each ear early earth easy eat egg elbow empty end enemy
engine enjoy enough enter evening every exam example eye face fact factory fail fall
false family famous far farm fast fat father fear feather feed feel fence fever few
field fight fill film find fine finger finish fire fish fix flag flat floor flower
fly fog food foot forest fork free fresh friend frog fruit full funny garden gate
gentle giant gift girl give glass glove goat gold good grape grass great green grey
ground group grow guess guitar hair half hall hammer hand happy hard hat hate have head
health hear heart heat heaven heavy hello help hen here hero hide high hill hit hobby
hold hole holiday home honey hook horse hospital hot hotel hour house hungry hurry
husband ice idea ill important inch insect island jacket jam job join joke juice jump
jungle just keep kettle key kick kind king kiss kitchen kite knee knife lady lake lamp
land language large last late laugh lazy lead leaf learn leather leg lemon lesson
letter library lift light like lion lip list listen little live lock long look lose
loud love low lucky lunch machine magic mail make man many map market marry match
maybe meat medicine meet melon metal middle milk minute mirror miss model monkey moon
morning mother mountain mouse mouth move much mud music name narrow near neck need
needle nest never new news nice night noise north nose nurse ocean open orange oven
page paint pair paper parent park party pass pay peace pen pencil people pepper
perfect piano picture pig pillow pink place plane plant plate play please pocket
poem police pool poor potato pretty price prince problem pull pupil purple push
queen question quick quiet rabbit race radio rain read ready red remember rice rich
ride ring river road rock roof room rope rose round rubber ruler run sad safe salt sand
save say school science sea season seat see sell send shape share sheep shelf ship
shirt shoe shop short shoulder shout show sick side silver simple sing sister sit
size skirt sky sleep slow small smell smile smoke snake snow soap sock soft soldier
song soon sorry sound soup south space speak spoon sport spring square star station
stay steal step stick still stone storm story strange street strong student study
sugar summer sun supper sure sweet swim table tail talk tall taxi tea teacher team
teeth telephone tell tent test thank thick thin thing think thirsty through throw
ticket tiger time tired tomato tongue tool tooth top towel tower town toy train tree
trouble truck true try turn twice ugly umbrella uncle under use useful village visit
voice wait wake walk wall want warm wash watch water wave weak wear weather wedding
week welcome well west wet whale wheel white wide wife wild win window wing winter
wish woman wood wool word work world worry wrong yard year yellow young zoo
""".split())

#: Never trained on: the ``_unknown_`` example the issue names.
ALWAYS_HELD_OUT = ("banana",)

#: Spoken by babble talkers (none holds a word of the vocabulary).
BABBLE_TEXT = (
    "the weather was cold and the streets were quiet that morning",
    "she opened the window and looked at the garden behind the house",
    "a small boat drifted slowly across the lake toward the village",
    "they said the meeting would be moved to the afternoon",
    "please remember to bring the documents with you tomorrow",
    "the children were playing in the park near the river",
    "he bought bread, cheese and apples at the market",
    "the train was late because of the heavy snow",
    "we talked about music, books and the places we had visited",
    "the museum will be closed for a week during the holidays",
    "my brother works at a hospital in the city centre",
    "the old bridge was built more than a century ago",
    "can you tell me where the library is",
    "the coffee was too hot to drink at first",
    "birds were singing in the trees above the path",
    "the teacher asked the class to read the chapter again",
    "there is a small shop at the corner of the street",
    "the concert started with a quiet piece for piano",
    "our neighbours painted their house a bright yellow",
    "the report will be finished by the end of the month",
)


def split_other_words(seed: int, test_fraction: float = 0.25) -> tuple:
    """(training words, held-out words) of :data:`OTHER_WORDS`: a seeded shuffle
    holds ``test_fraction`` out, plus :data:`ALWAYS_HELD_OUT`."""
    pool = [w for w in OTHER_WORDS if w not in ALWAYS_HELD_OUT]
    order = np.random.default_rng(seed).permutation(len(pool))
    n_test = int(round(test_fraction * len(OTHER_WORDS))) - len(ALWAYS_HELD_OUT)
    test = sorted({pool[i] for i in order[:n_test]} | set(ALWAYS_HELD_OUT))
    train = sorted(pool[i] for i in order[n_test:])
    return tuple(train), tuple(test)
