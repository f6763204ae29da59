"""Clinical words of nursing and physician notes that also occur in census name lists or are unknown to
general English word lists ("bolus", "stent", "levo", "aline"). They are never names or places unless a
title or the patient's own identifiers say so. General medical vocabulary, not taken from any gold file."""

from __future__ import annotations

CLINICAL_VOCABULARY = frozenset(
    """
    bolus boluses levo levophed aline a-line aline's endo vea pacer pacers mech fent fick thrush sternal bile
    brisk perl perrl riss nard shiley kling ramus chol redo asp paco pao crea dusky zoll hugger bair muir
    passy passey passe custard eves swallows weakly sedated sedation bowels remains lis stent stents
    sats sat'ing satting desat desats desatted tachy brady tachypneic bradycardic hypotensive hypertensive
    afebrile febrile diaphoretic lethargic somnolent arousable intubated extubated reintubated trached
    suctioned suction suctioning secretions sputum sputums thick thin tan yellow bloody blood-tinged
    crackles rales rhonchi wheezes wheezing diminished coarse clear bilat bilaterally bibasilar
    ogt ngt peg j-tube g-tube dobhoff tf tfs tube feeds feeding residuals residual emesis stool stools
    guaiac heme ostomy colostomy ileostomy foley uop urine diuresis diuresed diuresing lasix'd
    edema edematous pitting anasarca turgor skin rash decub decubitus coccyx sacrum sacral heel heels
    dressing dressings dsd drsg ace wrap gauze kerlix tegaderm duoderm mepilex allevyn aquacel xeroform
    picc cvl tlc cordis sheath sheaths introducer swan pa-line art line lines iv ivs piv pivs hep-lock
    gtt gtts drip drips titrate titrated titrating weaned weaning wean off on prn q1 q2 q4 q6 q8 qid tid bid
    qd qhs hs ac pc po pr sl sq sc im ivp ivpb neb nebs mdi mdis inh inhaler
    vanco zosyn levaquin flagyl cipro ceftaz cefazolin ancef mero linezolid dapto daptomycin caspo
    propofol prop versed fentanyl morphine dilaudid ativan haldol precedex neo neosynephrine vaso
    dopa dobut milrinone primacor nitro ntg tng nipride natrecor amio amiodarone lido lidocaine dig
    insulin riss lantus nph humalog kcl kphos mag mgso4 calcium cagluc ca gluconate bicarb nahco3
    prbc prbcs ffp plts platelets cryo albumin hespan ns lr d5w d51/2 d5ns ivf ivfs fluids fluid
    abg abgs vbg lytes chem chems cbc coags inr ptt pt/ptt hct hgb wbc plt bun creat cr k na cl co2
    lactate trop tropn ck cks cpk cpks mb ldh lfts ast alt alk bili amylase lipase tsh bnp dig-level
    cxr kub ct cta mri mra us echo tee tte ekg ecg eeg emg egd ercp bronch bronchoscopy cath angio
    angiogram angioplasty ptca pci cabg avr mvr tvr tavr iabp vad lvad rvad ecmo crrt cvvh cvvhd cvvhdf
    hd pd ultrafiltration uf dialysate trach tracheostomy ett ettube vent ventilator simv imv ac/ vc
    prvc cpap bipap peep psv ps fio2 tv rr mv vt nc nrb fm face-tent trach-mask tm cool neb aerosol
    hr bp map cvp pcwp pap co ci svr svo2 scvo2 spo2 sao2 etco2 icp cpp temp tmax tcurrent afib aflutter
    nsr sr st sb svt vt vf vfib vtach pvc pvcs pac pacs pea asystole ectopy bigeminy trigeminy couplets
    neuro neuros cv resp gi gu id heme onc endo psych psychosocial social dispo access lines skin activity
    mae perla perrla gcs rass cam-icu ciwa aox aaox oriented disoriented confused agitated restless
    anxious calm cooperative follows commands nonverbal mouthing mouths nods nodding squeezes
    withdraws grimaces grimacing localizes posturing flaccid weakness numbness tingling
    pain ache aches achy discomfort tenderness tender soft distended nontender firm hypoactive
    hyperactive absent present bs bm bms flatus ostomy ogt-ng npo clears clear-liquids thickened nectar
    honey pureed puree dysphagia aspiration aspirate speech swallow swallowing
    pt/ot ot/pt rehab oob chair dangle dangled ambulate ambulated ambulating ambulation commode bsc
    turned turning repositioned reposition hob elevated elevate sitter restraints restraint soft-restraints
    mittens posey vest bedrest bed-rest
    plan plans cont continue continued continuing monitor monitoring follow followed f/u fu assess
    assessed reassess reassessed notify notified update updated aware called paged spoke discussed
    family pt's pts patient patients dtr sil dil hcp proxy dnr dni cmo comfort full code
    rn rns np nps md mds pa pas rrt rrts cna pct tech techs resident residents intern interns fellow
    fellows attending attendings team teams service services micu sicu ccu csru nicu picu ctic cvicu
    coli diff difficile aureus epidermidis pneumoniae aeruginosa pylori faecalis faecium cloacae marcescens
    albicans glabrata jirovecii influenzae fragilis perfringens mirabilis baumannii maltophilia
    sero sang serosang serosanguinous sanguinous transfuse approx doxacurium gent surg lws sbp dbp fio mso pcv
    situational wandering baseline
    gravely presnt contin alkalotic aggrestat metamucil
    oxycontin adriamycin cytoxan droperidol pheresis trac ophthalmology ortho
    hematocrit neurologist neurosurg aloe vesta
    con't cont'd iab ivab nahco neutraphos
    flowsheet flowsheets flow careview carevue fhp fhpa portex bilous deline lipoma neurosurgery rheum
    ho addendum hoyer quintin stas heath sever poss gluc vue carevue blocker interventional cardiology groin femoral peri nares floro fluoro wedge
    ota reck stagger shivers peeling asymptomatic hemodynamics allegra opens phoned
    tsicu pacu pmicu psicu ed er ew or ir cath-lab floor floors unit units pod pods
    """.split()
)
