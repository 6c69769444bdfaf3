"""Condition codes -> what they tell us, as tags.

Tags: ``diabetes`` or ``diabetes:<type1|type2|gestational|other|unspecified>``, ``htn``,
``ckd`` or ``ckd:<1|2|3|3a|3b|4|5>``, ``ascvd``, ``hf``, ``dr``, ``dme``, ``pregnancy``,
``smoking:<current|former>``. One code may carry several ("CKD stage 3 due to type 2
diabetes" -> diabetes:type2 ckd:3).

SNOMED CT codes are listed one by one (we cannot walk the hierarchy offline): the disorders
and their commonly used descendants, checked against SNOMED CT descriptions as published in
public code lists (NHS/BHF phenotype lists, VSAC value sets, Synthea modules). An empty tag
string marks a code that looks related but must not count (prediabetes, "no retinopathy",
pulmonary hypertension...). Codes not listed fall back to their display text (conditions.py).
ICD-10 (WHO) and ICD-10-CM are matched by rule on the dot-less code (icd10_tags).
"""

from __future__ import annotations

_T1 = "diabetes:type1"
_T2 = "diabetes:type2"

SNOMED_CONDITION_TAGS: dict[str, str] = {
    # --- Diabetes, type not stated
    "73211009": "diabetes",  # Diabetes mellitus
    "111552007": "diabetes",  # Diabetes mellitus without complication
    "11530004": "diabetes",  # Brittle diabetes mellitus
    "74627003": "diabetes",  # Diabetic complication
    "703136005": "diabetes",  # Diabetes mellitus in remission
    "230572002": "diabetes",  # Diabetic neuropathy
    "49455004": "diabetes",  # Diabetic polyneuropathy
    "424736006": "diabetes",  # Diabetic peripheral neuropathy
    "280137006": "diabetes",  # Diabetic foot
    "371087003": "diabetes",  # Diabetic foot ulcer
    "43959009": "diabetes",  # Diabetic cataract (not retinopathy)
    "25093002": "diabetes",  # Diabetic oculopathy (not necessarily retinopathy)
    "267471001": "diabetes",  # Diabetes + eye manifestation (cataract or retinopathy)
    "420422005": "diabetes",  # Ketoacidosis in diabetes mellitus
    "127014009": "diabetes",  # Diabetic peripheral angiopathy
    "609563008": "diabetes pregnancy",  # Pre-existing diabetes mellitus in pregnancy
    "127013003": "diabetes ckd",  # Disorder of kidney due to diabetes mellitus
    "236499007": "diabetes ckd",  # Microalbuminuric diabetic nephropathy
    "236500003": "diabetes ckd",  # Clinical diabetic nephropathy
    "309426007": "diabetes ckd",  # Diabetic glomerulopathy
    "707221002": "diabetes ckd",  # Diabetic glomerulosclerosis
    "197605007": "diabetes ckd",  # Nephrotic syndrome in diabetes mellitus
    # --- Type 1
    "46635009": _T1,  # Type 1 diabetes mellitus
    "190330002": _T1,  # Type 1 diabetes mellitus with hyperosmolar coma
    "190368000": _T1,  # Type 1 diabetes mellitus with ulcer
    "190369008": _T1,  # Type 1 diabetes mellitus with gangrene
    "190372001": _T1,  # Type 1 diabetes mellitus maturity onset
    "23045005": _T1,  # Insulin dependent diabetes mellitus type IA
    "290002008": _T1,  # Brittle type 1 diabetes mellitus
    "313435000": _T1,  # Type 1 diabetes mellitus without complication
    "314771006": _T1,  # Type 1 diabetes mellitus with hypoglycemic coma
    "314893005": _T1,  # Type 1 diabetes mellitus with arthropathy
    "401110002": _T1,  # Type 1 diabetes mellitus with persistent microalbuminuria
    "420270002": _T1,  # Ketoacidosis due to type 1 diabetes mellitus
    "420514000": _T1,  # Persistent proteinuria due to type 1 diabetes mellitus
    "420825003": _T1,  # Gangrene due to type 1 diabetes mellitus
    "420868002": _T1,  # Disorder due to type 1 diabetes mellitus
    "420918009": _T1,  # Mononeuropathy due to type 1 diabetes mellitus
    "421075007": _T1,  # Ketoacidotic coma due to type 1 diabetes mellitus
    "421365002": _T1,  # Peripheral circulatory disorder due to type 1 diabetes mellitus
    "421468001": _T1,  # Neurological disorder due to type 1 diabetes mellitus
    "421920002": _T1,  # Cataract of eye due to type 1 diabetes mellitus
    "422228004": _T1,  # Multiple complications due to type 1 diabetes mellitus
    "444073006": _T1,  # Type 1 diabetes mellitus uncontrolled
    "703137001": _T1,  # Type 1 diabetes mellitus in remission
    "713702000": _T1,  # Gastroparesis due to type 1 diabetes mellitus
    "713705003": _T1,  # Polyneuropathy due to type 1 diabetes mellitus
    "71771000119100": _T1,  # Neuropathic arthropathy due to type 1 diabetes mellitus
    "739681000": _T1,  # Disorder of eye due to type 1 diabetes mellitus
    "367991000119101": _T1,  # Hyperglycemia due to type 1 diabetes mellitus
    "472970003": _T1,  # History of diabetes mellitus type 1
    "426875007": _T1,  # Latent autoimmune diabetes mellitus in adult (ADA: type 1)
    "421893009": f"{_T1} ckd",  # Renal disorder due to type 1 diabetes mellitus
    "420789003": f"{_T1} dr",  # Retinopathy due to type 1 diabetes mellitus
    "104941000119109": f"{_T1} dr",  # Retinal ischemia due to type 1 diabetes mellitus
    "420486006": f"{_T1} dme",  # Exudative maculopathy due to type 1 diabetes mellitus
    "769219006": f"{_T1} dme",  # Macular edema due to type 1 diabetes mellitus
    "31211000119101": f"{_T1} ascvd",  # Peripheral vascular disease due to type 1 DM
    # --- Type 2
    "44054006": _T2,  # Type 2 diabetes mellitus
    "190331003": _T2,  # Type 2 diabetes mellitus with hyperosmolar coma
    "190388001": _T2,  # Multiple complications of type 2 diabetes mellitus
    "190389009": _T2,  # Type 2 diabetes mellitus with ulcer
    "237599002": _T2,  # Insulin treated type 2 diabetes mellitus
    "313436004": _T2,  # Type 2 diabetes mellitus without complication
    "314903002": _T2,  # Type 2 diabetes mellitus with arthropathy
    "314904008": _T2,  # Type 2 diabetes mellitus with neuropathic arthropathy
    "395204000": _T2,  # Hyperosmolar non-ketotic state in type 2 diabetes mellitus
    "420436000": _T2,  # Mononeuropathy due to type 2 diabetes mellitus
    "420715001": _T2,  # Persistent microalbuminuria due to type 2 diabetes mellitus
    "420756003": _T2,  # Cataract of eye due to type 2 diabetes mellitus
    "421326000": _T2,  # Disorder of nervous system due to type 2 diabetes mellitus
    "421631007": _T2,  # Gangrene due to type 2 diabetes mellitus
    "421750000": _T2,  # Ketoacidosis due to type 2 diabetes mellitus
    "421847006": _T2,  # Ketoacidotic coma due to type 2 diabetes mellitus
    "421986006": _T2,  # Persistent proteinuria due to type 2 diabetes mellitus
    "422014003": _T2,  # Disorder due to type 2 diabetes mellitus
    "422099009": _T2,  # Disorder of eye due to type 2 diabetes mellitus
    "422166005": _T2,  # Peripheral circulatory disorder due to type 2 diabetes mellitus
    "443694000": _T2,  # Type 2 diabetes mellitus uncontrolled
    "445353002": _T2,  # Brittle type 2 diabetes mellitus
    "703138006": _T2,  # Type 2 diabetes mellitus in remission
    "713703005": _T2,  # Gastroparesis due to type 2 diabetes mellitus
    "713706002": _T2,  # Polyneuropathy due to type 2 diabetes mellitus
    "719216001": _T2,  # Hypoglycemic coma due to type 2 diabetes mellitus
    "761000119102": _T2,  # Dyslipidemia due to type 2 diabetes mellitus
    "81531005": _T2,  # Diabetes mellitus type 2 in obese
    "87451000119102": _T2,  # Heel and/or midfoot ulcer due to type 2 diabetes mellitus
    "110181000119105": _T2,  # Peripheral sensory neuropathy due to type 2 diabetes mellitus
    "140381000119104": _T2,  # Neuropathic toe ulcer due to type 2 diabetes mellitus
    "140391000119101": _T2,  # Ulcer of toe due to type 2 diabetes mellitus
    "140521000119107": _T2,  # Ischemic foot ulcer due to type 2 diabetes mellitus
    "1511000119107": _T2,  # Peripheral neuropathy due to type 2 diabetes mellitus
    "157141000119108": _T2,  # Proteinuria due to type 2 diabetes mellitus
    "90781000119102": _T2,  # Microalbuminuria due to type 2 diabetes mellitus
    "368581000119106": _T2,  # Neuropathy due to type 2 diabetes mellitus
    "472969004": _T2,  # History of diabetes mellitus type 2
    "24471000000103": _T2,  # Type 2 diabetic on insulin
    "24481000000101": _T2,  # Type 2 diabetic on diet only
    "199230006": f"{_T2} pregnancy",  # Pre-existing type 2 diabetes mellitus in pregnancy
    "237627000": f"{_T2} pregnancy",  # Pregnancy and type 2 diabetes mellitus
    "420279001": f"{_T2} ckd",  # Renal disorder due to type 2 diabetes mellitus
    "731000119105": f"{_T2} ckd:3",  # Chronic kidney disease stage 3 due to type 2 DM
    "422034002": f"{_T2} dr",  # Retinopathy due to type 2 diabetes mellitus
    "1551000119108": f"{_T2} dr",  # Nonproliferative retinopathy due to type 2 DM
    "1501000119109": f"{_T2} dr",  # Proliferative retinopathy due to type 2 DM
    "1491000119102": f"{_T2} dr",  # Vitreous hemorrhage due to type 2 diabetes mellitus
    "421779007": f"{_T2} dme",  # Exudative maculopathy due to type 2 diabetes mellitus
    "97331000119101": f"{_T2} dr dme",  # Macular edema and retinopathy due to type 2 DM
    "314902007": f"{_T2} ascvd",  # Type 2 diabetes mellitus with peripheral angiopathy
    "791000119109": f"{_T2} ascvd",  # Angina due to type 2 diabetes mellitus
    # --- Gestational and other types
    "11687002": "diabetes:gestational pregnancy",  # Gestational diabetes mellitus
    "40801000119106": "diabetes:gestational pregnancy",  # GDM complicating pregnancy
    "8801005": "diabetes:other",  # Secondary diabetes mellitus
    "5368009": "diabetes:other",  # Drug-induced diabetes mellitus
    "408540003": "diabetes:other",  # Diabetes mellitus caused by non-steroid drugs
    "413183008": "diabetes:other",  # ... without complication
    "190447002": "diabetes:other",  # Steroid-induced diabetes
    "190416008": "diabetes:other",  # Steroid-induced diabetes mellitus without complication
    "609561005": "diabetes:other",  # Maturity-onset diabetes of the young
    "609562003": "diabetes:other",  # Maturity onset diabetes of the young, type 1
    "609572000": "diabetes:other",  # Maturity-onset diabetes of the young, type 5
    "237604008": "diabetes:other",  # Maturity onset diabetes of the young, type 2
    "75524006": "diabetes:other",  # Malnutrition related diabetes mellitus
    "190406000": "diabetes:other",  # Malnutrition-related diabetes mellitus with ketoacidosis
    "190407009": "diabetes:other ckd",  # Malnutrition-related DM with renal complications
    "190412005": "diabetes:other",  # Malnutrition-related DM without complications
    "2751001": "diabetes:other",  # Fibrocalculous pancreatic diabetes
    "426705001": "diabetes:other",  # Diabetes mellitus associated with cystic fibrosis
    "51002006": "diabetes:other",  # Diabetes mellitus associated with pancreatic disease
    "237601000": "diabetes:other",  # Secondary endocrine diabetes mellitus
    # --- Not diabetes, though close
    "15777000": "",  # Prediabetes
    "714628002": "",  # Prediabetes
    "160303001": "",  # Family history of diabetes mellitus
    "472971004": "",  # History of gestational diabetes mellitus
    "134395001": "",  # Diabetic retinopathy screening (procedure)
    "390850007": "",  # O/E - no right diabetic retinopathy
    "390853009": "",  # O/E - no left diabetic retinopathy
    "390855002": "",  # O/E - diabetic maculopathy absent both eyes
    # --- Diabetic retinopathy (diabetes implied)
    "4855003": "diabetes dr",  # Diabetic retinopathy
    "390834004": "diabetes dr",  # Nonproliferative diabetic retinopathy
    "312903003": "diabetes dr",  # Mild nonproliferative diabetic retinopathy
    "312904009": "diabetes dr",  # Moderate nonproliferative diabetic retinopathy
    "312905005": "diabetes dr",  # Severe nonproliferative diabetic retinopathy
    "59276001": "diabetes dr",  # Proliferative diabetic retinopathy
    "312906006": "diabetes dr",  # Non-high-risk proliferative diabetic retinopathy
    "312907002": "diabetes dr",  # High-risk proliferative diabetic retinopathy
    "312908007": "diabetes dr",  # Quiescent proliferative diabetic retinopathy
    "312909004": "diabetes dr",  # Proliferative DR - iris neovascularization
    "399865004": "diabetes dr",  # Very severe proliferative diabetic retinopathy
    "399870006": "diabetes dr",  # Non-high-risk PDR with no macular edema
    "399871005": "diabetes dr",  # Visually threatening diabetic retinopathy
    "399866003": "diabetes dr",  # Diabetic retinal venous beading
    "193349004": "diabetes dr",  # Preproliferative diabetic retinopathy
    "311782002": "diabetes dr",  # Advanced diabetic retinal disease
    "25412000": "diabetes dr",  # Diabetic retinal microaneurysm
    "232021008": "diabetes dr",  # Proliferative DR with new vessels on disc
    "232022001": "diabetes dr",  # Proliferative DR with new vessels elsewhere
    "232023006": "diabetes dr",  # Diabetic traction retinal detachment
    "312910009": "diabetes dr",  # Diabetic vitreous hemorrhage
    "769181007": "diabetes dr",  # Preproliferative retinopathy of right eye due to DM
    "769182000": "diabetes dr",  # Preproliferative diabetic retinopathy of left eye
    "769183005": "diabetes dr",  # Mild nonproliferative diabetic retinopathy of right eye
    "769184004": "diabetes dr",  # Mild nonproliferative retinopathy of left eye due to DM
    "769185003": "diabetes dr",  # Moderate nonproliferative DR of right eye
    "769186002": "diabetes dr",  # Moderate nonproliferative DR of left eye
    "408409007": "diabetes dr",  # O/E - right eye background diabetic retinopathy
    "408410002": "diabetes dr",  # O/E - left eye background diabetic retinopathy
    "408411003": "diabetes dr",  # O/E - right eye preproliferative diabetic retinopathy
    "408412005": "diabetes dr",  # O/E - left eye preproliferative diabetic retinopathy
    "408413000": "diabetes dr",  # O/E - right eye proliferative diabetic retinopathy
    "408414006": "diabetes dr",  # O/E - left eye proliferative diabetic retinopathy
    "414894003": "diabetes dr",  # O/E - left eye stable treated proliferative DR
    "414910007": "diabetes dr",  # O/E - right eye stable treated proliferative DR
    "417677008": "diabetes dr",  # O/E - sight threatening diabetic retinopathy
    # --- Diabetic macular edema / maculopathy
    "312912001": "diabetes dme",  # Macular edema due to diabetes mellitus
    "399864000": "diabetes dme",  # Diabetic macular edema not clinically significant
    "770097006": "diabetes dme",  # Clinically significant macular edema due to DM
    "769217008": "diabetes dme",  # Macular edema of right eye due to DM
    "769218003": "diabetes dme",  # Macular edema of left eye due to DM
    "769221001": "diabetes dme",  # Clinically significant macular edema of right eye (DM)
    "769222008": "diabetes dme",  # Clinically significant macular edema of left eye (DM)
    "232020009": "diabetes dme",  # Diabetic maculopathy
    "314010006": "diabetes dme",  # Diffuse diabetic maculopathy
    "314011005": "diabetes dme",  # Focal diabetic maculopathy
    "314014002": "diabetes dme",  # Ischemic diabetic maculopathy
    "314015001": "diabetes dme",  # Mixed diabetic maculopathy
    "193350004": "diabetes dme",  # Advanced diabetic maculopathy
    "769244003": "diabetes dme",  # Disorder of macula of right eye due to DM
    "769245002": "diabetes dme",  # Disorder of macula of left eye due to DM
    "390854003": "diabetes dme",  # O/E - diabetic maculopathy present both eyes
    # --- Hypertension
    "38341003": "htn",  # Hypertensive disorder
    "59621000": "htn",  # Essential hypertension
    "1201005": "htn",  # Benign essential hypertension
    "78975002": "htn",  # Malignant essential hypertension
    "10725009": "htn",  # Benign hypertension
    "70272006": "htn",  # Malignant hypertension
    "31992008": "htn",  # Secondary hypertension
    "371125006": "htn",  # Labile essential hypertension
    "429457004": "htn",  # Systolic essential hypertension
    "56218007": "htn",  # Systolic hypertension
    "48146000": "htn",  # Diastolic hypertension
    "64715009": "htn",  # Hypertensive heart disease
    "194767001": "htn hf",  # Benign hypertensive heart disease with congestive failure
    "83105008": "htn hf",  # Malignant hypertensive heart disease with CHF
    "194779001": "htn ckd hf",  # Hypertensive heart and renal disease with heart failure
    "194781004": "htn ckd hf",  # ... with both heart failure and renal failure
    "48194001": "htn pregnancy",  # Pregnancy-induced hypertension
    "398254007": "htn pregnancy",  # Pre-eclampsia
    "70995007": "",  # Pulmonary hypertension
    "4210003": "",  # Ocular hypertension
    # --- Chronic kidney disease
    "709044004": "ckd",  # Chronic kidney disease
    "90688005": "ckd",  # Chronic renal failure syndrome
    "431855005": "ckd:1",  # Chronic kidney disease stage 1
    "431856006": "ckd:2",  # Chronic kidney disease stage 2
    "433144002": "ckd:3",  # Chronic kidney disease stage 3
    "700378005": "ckd:3a",  # Chronic kidney disease stage 3a
    "700379002": "ckd:3b",  # Chronic kidney disease stage 3b
    "431857002": "ckd:4",  # Chronic kidney disease stage 4
    "433146000": "ckd:5",  # Chronic kidney disease stage 5
    "714152005": "ckd:5",  # Chronic kidney disease stage 5 on dialysis
    "46177005": "ckd:5",  # End-stage renal disease
    "236434000": "ckd:5",  # End stage renal failure untreated by renal replacement
    "236435004": "ckd:5",  # End stage renal failure on dialysis
    "236436003": "ckd",  # End stage renal failure with renal transplant
    "324501000000107": "ckd:5",  # CKD stage 5 with proteinuria (UK)
    "324541000000105": "ckd:5",  # CKD stage 5 without proteinuria (UK)
    # --- Heart failure
    "84114007": "hf",  # Heart failure
    "42343007": "hf",  # Congestive heart failure
    "88805009": "hf",  # Chronic congestive heart failure
    "48447003": "hf",  # Chronic heart failure
    "56675007": "hf",  # Acute heart failure
    "10633002": "hf",  # Acute congestive heart failure
    "85232009": "hf",  # Left heart failure
    "10335000": "hf",  # Chronic right-sided heart failure
    "128404006": "hf",  # Right heart failure
    "367363000": "hf",  # Right ventricular failure
    "92506005": "hf",  # Biventricular congestive heart failure
    "703272007": "hf",  # Heart failure with reduced ejection fraction
    "446221000": "hf",  # Heart failure with normal ejection fraction
    "426263006": "hf",  # Congestive heart failure due to LV systolic dysfunction
    "426611007": "hf",  # Congestive heart failure due to valvular disease
    "195111005": "hf",  # Decompensated cardiac failure
    "195112003": "hf",  # Compensated cardiac failure
    "195114002": "hf",  # Acute left ventricular failure
    "314206003": "hf",  # Refractory heart failure
    "233924009": "hf",  # Heart failure as a complication of care
    "420300004": "hf",  # New York Heart Association Classification - Class I
    "421704003": "hf",  # New York Heart Association Classification - Class II
    "420913000": "hf",  # New York Heart Association Classification - Class III
    "422293003": "hf",  # New York Heart Association Classification - Class IV
    # --- Atherosclerotic cardiovascular disease: coronary, cerebrovascular, peripheral
    "22298006": "ascvd",  # Myocardial infarction
    "57054005": "ascvd",  # Acute myocardial infarction
    "401303003": "ascvd",  # Acute ST segment elevation myocardial infarction
    "401314000": "ascvd",  # Acute non-ST segment elevation myocardial infarction
    "1755008": "ascvd",  # Old myocardial infarction
    "399211009": "ascvd",  # History of myocardial infarction
    "53741008": "ascvd",  # Coronary arteriosclerosis (coronary heart disease)
    "414545008": "ascvd",  # Ischemic heart disease
    "413838009": "ascvd",  # Chronic ischemic heart disease
    "413439005": "ascvd",  # Acute ischemic heart disease
    "394659003": "ascvd",  # Acute coronary syndrome
    "194828000": "ascvd",  # Angina
    "233819005": "ascvd",  # Stable angina
    "4557003": "ascvd",  # Preinfarction syndrome (unstable angina)
    "25106000": "ascvd",  # Impending infarction
    "429559004": "ascvd",  # Typical angina
    "300995000": "ascvd",  # Exercise-induced angina
    "414795007": "ascvd",  # Myocardial ischemia
    "15960141000119102": "ascvd",  # Angina due to coronary arteriosclerosis
    "15960061000119102": "ascvd",  # Unstable angina due to coronary arteriosclerosis
    "230690007": "ascvd",  # Cerebrovascular accident (stroke)
    "432504007": "ascvd",  # Cerebral infarction
    "422504002": "ascvd",  # Ischemic stroke
    "266257000": "ascvd",  # Transient ischemic attack
    "275526006": "ascvd",  # History of cerebrovascular accident
    "399957001": "ascvd",  # Peripheral arterial occlusive disease
    "840580004": "ascvd",  # Peripheral arterial disease
    "400047006": "ascvd",  # Peripheral vascular disease
    # --- Pregnancy
    "77386006": "pregnancy",  # Pregnant
    "72892002": "pregnancy",  # Normal pregnancy
    "47200007": "pregnancy",  # High risk pregnancy
    # --- Smoking recorded as a condition (used only when no smoking status observation)
    "77176002": "smoking:current",  # Smoker
    "449868002": "smoking:current",  # Smokes tobacco daily
    "65568007": "smoking:current",  # Cigarette smoker
    "8517006": "smoking:former",  # Ex-smoker
}


def icd10_tags(code: str) -> str | None:
    """Tags of an ICD-10 (WHO) or ICD-10-CM code written without its dot (E113293);
    None when the code is not one we read."""
    c = code.upper()
    tags: list[str] = []
    head, rest = c[:3], c[3:]
    if head in ("E08", "E09", "E10", "E11", "E12", "E13", "E14"):
        kind = {"E10": "type1", "E11": "type2", "E14": "unspecified"}.get(head, "other")
        tags.append(f"diabetes:{kind}")
        # ICD-10-CM ophthalmic detail: .31-.35 retinopathy (6th character 1 = with macular
        # edema), .37 macular edema resolved after treatment. WHO .3 ("with ophthalmic
        # complications") does not say retinopathy, so it gives diabetes only.
        sub = rest[:2]
        if sub in ("31", "32", "33", "34", "35"):
            tags.append("dr")
            if rest[2:3] == "1":
                tags.append("dme")
        elif sub == "37":
            tags.append("dme")
        elif sub in ("21", "22"):  # diabetic nephropathy; diabetic chronic kidney disease
            tags.append("ckd")
    elif head == "O24":
        kind = {"0": "type1", "1": "type2", "4": "gestational", "8": "other"}.get(
            rest[:1], "unspecified"
        )
        tags += [f"diabetes:{kind}", "pregnancy"]
    elif c.startswith("H360"):  # WHO: diabetic retinopathy (asterisk code)
        tags += ["diabetes", "dr"]
    elif c.startswith("N083"):  # WHO: glomerular disorders in diabetes mellitus
        tags += ["diabetes", "ckd"]
    elif head in ("I10", "I15", "I16"):
        tags.append("htn")
    elif head == "I11":
        tags += ["htn", "hf"] if rest.startswith("0") else ["htn"]
    elif head == "I12":
        tags += ["htn", "ckd:5" if rest.startswith("0") else "ckd"]
    elif head == "I13":
        tags += ["htn", "ckd"] + (["hf"] if rest[:1] in ("0", "2") else [])
    elif head in ("O10", "O11", "O13", "O14", "O16"):
        tags += ["htn", "pregnancy"]
    elif head == "N18":
        # CM N18.30/.31/.32 = stage 3 / 3a / 3b; N18.6 (CM) and N18.0 (old WHO) = end stage.
        stage = {"30": "3", "31": "3a", "32": "3b"}.get(rest[:2]) or {
            "1": "1",
            "2": "2",
            "3": "3",
            "4": "4",
            "5": "5",
            "6": "5",
            "0": "5",
        }.get(rest[:1])
        tags.append(f"ckd:{stage}" if stage else "ckd")
    elif head == "I50" or c.startswith("I0981"):
        tags.append("hf")
    elif head in ("I20", "I21", "I22", "I23", "I24", "I25", "I63", "I64", "I65", "I66"):
        tags.append("ascvd")
    elif head == "G45" and not rest.startswith("4"):  # TIA; G45.4 is transient amnesia
        tags.append("ascvd")
    elif c.startswith(("I693", "I702", "I703", "I704", "I705", "I706", "I707", "I709", "I739")):
        tags.append("ascvd")  # sequelae of infarction; atherosclerosis of limbs; PVD
    elif c.startswith(("Z951", "Z955", "Z9861", "Z8673")):
        tags.append("ascvd")  # CABG / coronary stent / angioplasty status; history of stroke
    elif c.startswith(("Z331", "Z34", "Z3A", "Z3201")) or (
        head[:1] == "O" and head[1:].isdigit() and 9 <= int(head[1:]) <= 48
    ):
        tags.append("pregnancy")
    elif c.startswith("F172"):  # nicotine dependence, cigarettes; 6th char 1 = in remission
        tags.append("smoking:former" if rest[2:3] == "1" else "smoking:current")
    elif c.startswith("Z720"):
        tags.append("smoking:current")
    elif c.startswith("Z87891"):
        tags.append("smoking:former")
    else:
        return None
    return " ".join(tags)
