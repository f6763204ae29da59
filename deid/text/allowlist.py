"""Clinical vocabulary that must survive redaction: eponyms, drug names, units and ward abbreviations.

Three sets, all lower case:
- `EPONYMS`: surnames that name diseases, signs, devices and scores. An eponym followed by a clinical noun
  ("Parkinson disease", "Foley catheter", "Gram stain", "Bell palsy") is never redacted by a generic rule;
  on its own it is never taken as a name by the dictionary rule (a title such as "Dr." still wins).
- `DRUGS` and `UNITS`: never names or places.
- `CLINICAL_WORDS`: abbreviations and ward words common in notes that also appear in name lists.
Only the patient-aware recognizer (identifiers the same message carries) overrides them: fail closed.
"""

from __future__ import annotations

import re
from functools import lru_cache

from deid.text.clinical_vocabulary import CLINICAL_VOCABULARY

EPONYMS = frozenset(
    """
    parkinson parkinsons parkinson's foley cushing cushings cushing's gram apgar bell bell's alzheimer alzheimers
    alzheimer's crohn crohns crohn's addison addison's graves hashimoto wilson wilsons barrett barretts
    kaposi guillain barre marfan raynaud raynauds sjogren tourette wernicke korsakoff whipple wolff
    white huntington meniere paget peyronie bartholin baker munchausen hirschsprung kawasaki lyme ewing wilms
    douglas burkitt epstein coombs doppler holter heimlich trendelenburg fowler fowlers swan ganz hodgkin hodgkins
    babinski kernig brudzinski murphy homan homans chvostek trousseau cheyne stokes kussmaul korotkoff
    glasgow braden morse ranson child pugh wells virchow starling frank levine mallory weiss zenker
    hartmann roux billroth nissen whipple's colles smith barton monteggia galeazzi jones bennett boxer
    hickman broviac groshong jackson pratt penrose miller mac macintosh guedel yankauer sengstaken
    blakemore minnesota salem ewald dobhoff levin foley's tenckhoff quinton permcath mahurkar
    mobitz wenckebach brugada osborn bundle purkinje his kerley bezold jarisch adams stokes'
    lown ganong romano ward torsades cheyne-stokes swan-ganz guillain-barre creutzfeldt jakob
    stevens johnson lambert eaton tay sachs gaucher fabry pompe niemann pick turner klinefelter
    down noonan prader willi angelman rett fragile asperger bell-palsy still reiter behcet takayasu
    buerger kawasaki's henoch schonlein goodpasture wegener churg strauss berger alport fanconi
    bartter gitelman liddle conn pheochromocytoma zollinger ellison sheehan nelson hurthle merkel
    kaposi's ewing's wilms' hodgkin's burkitt's paget's bowen bowen's spitz clark breslow gleason
    papanicolaou pap wright giemsa ziehl neelsen auramine grocott warthin starry silver tzanck
    schilling coombs' mantoux tine allen phalen tinel finkelstein lachman mcmurray thompson
    """.split()
)

CLINICAL_NOUNS = frozenset(
    """
    disease diseases syndrome syndromes sign signs catheter catheters cath palsy stain stains score scores scale
    test tests maneuver manoeuvre reflex reflexes disorder phenomenon procedure operation repair fracture
    lymphoma sarcoma tumor tumour node nodes bag tube tubes drain drains balloon blade position respiration
    respirations breathing triad law classification criteria pouch esophagus oesophagus ulcer ulcers cyst
    granulomatosis thyroiditis encephalopathy psychosis gangrene block blocks lines line monitor stockings
    chorea dementia stage staging type class grade tear tears varices loop wave waves coma diverticulum
    diverticula anomaly malformation hernia cell cells body bodies nodule nodules murmur point
    """.split()
)
# after these nouns any name-shaped word is an eponym ("Meckel diverticulum", "Zenker diverticulum"), unless
# a title comes first ("Dr. Meckel procedure" is a person)
_EPONYM_NOUNS = frozenset(
    "disease syndrome syndromes sign palsy diverticulum thyroiditis esophagus oesophagus maneuver manoeuvre reflex "
    "lymphoma sarcoma tumor tumour phenomenon triad criteria classification fracture anomaly malformation "
    "encephalopathy granulomatosis chorea dementia".split()
)
_TITLE_BEFORE = re.compile(r"\b(?:dr|drs|doctor|mr|mrs|ms|miss|prof)\.?\s*$", re.IGNORECASE)

DRUGS = frozenset(
    """
    metformin heparin insulin coumadin warfarin lasix furosemide digoxin lisinopril metoprolol atenolol
    amiodarone dopamine dobutamine milrinone levophed norepinephrine epinephrine vasopressin neosynephrine
    phenylephrine propofol fentanyl morphine dilaudid hydromorphone versed midazolam ativan lorazepam haldol
    haloperidol vancomycin vanco zosyn unasyn ceftriaxone ceftazidime ceftaz cefazolin ancef levofloxacin
    levaquin flagyl metronidazole ciprofloxacin cipro gentamicin tobramycin meropenem imipenem oxacillin
    nafcillin ampicillin penicillin bactrim clindamycin azithromycin erythromycin doxycycline linezolid
    fluconazole nystatin acyclovir protonix pantoprazole prilosec omeprazole pepcid famotidine carafate
    sucralfate reglan colace senna dulcolax lactulose kayexalate aspirin asa plavix clopidogrel integrilin
    lovenox enoxaparin nitroglycerin ntg nitro tng captopril enalapril hydralazine labetalol diltiazem
    cardizem verapamil nifedipine amlodipine norvasc procainamide procan lidocaine adenosine atropine
    albuterol ventolin atrovent ipratropium flovent combivent solumedrol methylprednisolone prednisone
    hydrocortisone dexamethasone decadron lantus humalog novolog glipizide glyburide potassium kcl
    magnesium calcium bicarbonate zofran ondansetron phenergan benadryl tylenol acetaminophen motrin
    ibuprofen toradol percocet oxycodone vicodin tramadol neurontin gabapentin dilantin phenytoin keppra
    levetiracetam depakote lithium zoloft prozac paxil celexa lexapro seroquel zyprexa risperdal
    simvastatin zocor lipitor atorvastatin pravastatin synthroid levothyroxine flomax proscar ambien
    trazodone thiamine folate multivitamin mvi ferrous iron epogen procrit neupogen albumin lactate
    ringer ringers saline dextrose tpa alteplase streptokinase mannitol nimodipine nicardipine
    esmolol nipride nitroprusside precedex dexmedetomidine ketamine etomidate succinylcholine rocuronium
    vecuronium cisatracurium narcan naloxone flumazenil glucagon octreotide pitressin ddavp desmopressin
    digibind cellcept tacrolimus prograf cyclosporine rapamune bumex bumetanide aldactone spironolactone
    diamox hctz chlorothiazide zaroxolyn metolazone natrecor nesiritide coreg carvedilol lopressor
    toprol isordil imdur zestril vasotec captoten ceclor keflex augmentin cefepime maxipime aztreonam
    tamiflu valium xanax klonopin clonazepam sliding scale
    """.split()
)

UNITS = frozenset(
    """
    mg mcg ug g gm kg lb lbs ml cc l dl mmol meq mmhg cmh2o units unit iu mg/dl mg/kg mcg/kg mcg/min
    ml/hr cc/hr l/min lpm bpm hr hrs min mins sec secs cm mm
    """.split()
)

CLINICAL_WORDS = frozenset(
    """
    pt pts bp hr rr sat sats ns lr cvp pa pad pap svr co ci abg vbg cbc bun cr inr ptt ekg ecg cxr ct mri
    icu ccu micu sicu csru nicu ed er ew or pacu ot np rn rrt md do dr drs mr mrs ms miss md's cna lpn
    tele floor neuro resp card cv gi gu id heme onc renal skin social dispo code full dnr dni cmo
    peg ngt ogt ett trach vent cpap bipap nc nrb fio2 peep ps tv mae perrl perla aox alert oriented
    afib aflutter svt vt vf pvc pvcs pac pacs nsr st sb sr cad chf copd htn dm iddm niddm cabg mvr avr
    pci ptca lad lcx rca mi ami nstemi stemi cp sob doe pnd le ue lle rle lue rue abd bs bm uo uop
    foley cath iabp ptx dvt pe uti ams cva tia sah ich bph lvh rvh esrd arf ckd hd cvvh cvvhd crrt
    am pm noc eve evening night day days today tonight yesterday tomorrow morning afternoon
    mon tue wed thu fri sat sun january february march april may june july august september october
    november december jan feb mar apr jun jul aug sep sept oct nov dec
    dtr son wife husband daughter mother father sister brother family friend proxy hcp
    aware notified called paged team house staff resident fellow attending intern
    will with and the for per from to at by of in on as is was has had are be been
    patient pts' pt's neg pos wnl nad plan assessment response action data
    given hold held cont continue dc'd d/c dc cc/hr
    """.split()
) | CLINICAL_VOCABULARY

# Eponyms used on their own in notes ("foley patent", "on doppler"): never names without a title.
EPONYMS_ALONE = frozenset(
    """
    parkinson parkinsons parkinson's foley foley's cushing cushings cushing's gram apgar alzheimer alzheimers
    alzheimer's crohn crohns crohn's doppler holter heimlich trendelenburg swan ganz swan-ganz hickman broviac
    groshong dobhoff tenckhoff quinton permcath mahurkar yankauer sengstaken blakemore babinski kussmaul
    korotkoff hodgkin hodgkins hodgkin's kaposi raynaud guillain barre guillain-barre wernicke korsakoff
    huntington meniere hirschsprung kawasaki wenckebach mobitz brugada purkinje kerley trousseau chvostek
    cheyne cheyne-stokes glasgow braden apgar's papanicolaou giemsa ziehl neelsen tzanck
    """.split()
)

ALLOWED_TERMS = EPONYMS_ALONE | DRUGS | UNITS

_EPONYM_PHRASE = re.compile(
    r"\b(?P<eponym>[A-Za-z][A-Za-z'\-]+)(?:'s|s')?\s+(?:" + "|".join(sorted(CLINICAL_NOUNS, key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)


def eponym_phrase_spans(text: str) -> list[tuple[int, int]]:
    return list(_eponym_phrase_spans(text))


@lru_cache(maxsize=64)  # the name rule and the merge step ask for the same text
def _eponym_phrase_spans(text: str) -> tuple[tuple[int, int], ...]:
    """[start, end) of eponyms that precede a clinical noun ("Parkinson disease" -> the "Parkinson" part)."""
    out: list[tuple[int, int]] = []
    for m in _EPONYM_PHRASE.finditer(text):
        word = m.group("eponym").lower()
        noun = m.group(0)[m.end("eponym") - m.start() :].split()[-1].lower()
        generic = noun in _EPONYM_NOUNS and not _TITLE_BEFORE.search(text, max(0, m.start() - 8), m.start())
        if word in EPONYMS or word.rstrip("'s") in EPONYMS or (generic and len(word) > 2):
            out.append((m.start("eponym"), m.end("eponym")))
    return tuple(out)


def is_allowed(word: str) -> bool:
    from deid.text.drug_vocabulary import drug_words

    w = word.lower().strip(".,;:'\"()")
    return w in ALLOWED_TERMS or w in CLINICAL_WORDS or w in drug_words()
