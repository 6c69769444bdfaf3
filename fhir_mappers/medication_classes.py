"""Medication -> drug classes: ATC prefixes, RxNorm ingredient codes, and names (generic,
brand, Chinese). A combination product gets every class it contains (sitagliptin/metformin
-> DPP-4i + metformin).

ATC codes are matched by longest prefix (WHO ATC/DDD index: A10A insulins, A10BA02
metformin, A10BB sulfonylureas, A10BD combinations, A10BF alpha-glucosidase inhibitors,
A10BG thiazolidinediones, A10BH DPP-4 inhibitors, A10BJ GLP-1 analogues, A10BK SGLT2
inhibitors, A10BX other (glinides, tirzepatide), C10AA statins, C10AB fibrates, C10AX09
ezetimibe, C09A/C09B ACE inhibitors (+ combinations), C09C/C09D ARBs (+ combinations),
C09DX04 sacubitril/valsartan, C08 calcium channel blockers, C03 diuretics, C07 beta blockers,
B01A antithrombotics). RxNorm: ingredient (IN) concepts only; SCD/SBD codes are classified
by the ingredient names their display carries.
"""

from __future__ import annotations

import re

from models.clinical_facts import MedicationClass as C

ATC_PREFIXES: dict[str, tuple[C, ...]] = {
    "A10A": (C.INSULIN,),
    "A10AE54": (C.INSULIN, C.GLP1RA),  # insulin glargine and lixisenatide
    "A10AE56": (C.INSULIN, C.GLP1RA),  # insulin degludec and liraglutide
    "A10BA02": (C.METFORMIN,),
    "A10BB": (C.SULFONYLUREA,),
    "A10BD02": (C.METFORMIN, C.SULFONYLUREA),
    "A10BD03": (C.METFORMIN, C.TZD),  # metformin and rosiglitazone
    "A10BD04": (C.SULFONYLUREA, C.TZD),  # glimepiride and rosiglitazone
    "A10BD05": (C.METFORMIN, C.TZD),  # metformin and pioglitazone
    "A10BD06": (C.SULFONYLUREA, C.TZD),  # glimepiride and pioglitazone
    "A10BD07": (C.METFORMIN, C.DPP4I),  # metformin and sitagliptin
    "A10BD08": (C.METFORMIN, C.DPP4I),  # metformin and vildagliptin
    "A10BD09": (C.TZD, C.DPP4I),  # pioglitazone and alogliptin
    "A10BD10": (C.METFORMIN, C.DPP4I),  # metformin and saxagliptin
    "A10BD11": (C.METFORMIN, C.DPP4I),  # metformin and linagliptin
    "A10BD13": (C.METFORMIN, C.DPP4I),  # metformin and alogliptin
    "A10BD15": (C.METFORMIN, C.SGLT2I),  # metformin and dapagliflozin
    "A10BD16": (C.METFORMIN, C.SGLT2I),  # metformin and canagliflozin
    "A10BD19": (C.DPP4I, C.SGLT2I),  # linagliptin and empagliflozin
    "A10BD20": (C.METFORMIN, C.SGLT2I),  # metformin and empagliflozin
    "A10BD21": (C.DPP4I, C.SGLT2I),  # saxagliptin and dapagliflozin
    "A10BD23": (C.METFORMIN, C.SGLT2I),  # metformin and ertugliflozin
    "A10BD24": (C.DPP4I, C.SGLT2I),  # sitagliptin and ertugliflozin
    "A10BF": (C.ALPHA_GLUCOSIDASE_INHIBITOR,),
    "A10BG": (C.TZD,),
    "A10BH": (C.DPP4I,),
    "A10BJ": (C.GLP1RA,),
    "A10BK": (C.SGLT2I,),
    "A10BX02": (C.GLINIDE,),  # repaglinide
    "A10BX03": (C.GLINIDE,),  # nateglinide
    "A10BX08": (C.GLINIDE,),  # mitiglinide
    "A10BX16": (C.GLP1RA,),  # tirzepatide (GIP/GLP-1 receptor agonist)
    "C10AA": (C.STATIN,),
    "C10AB": (C.FIBRATE,),
    "C10AX09": (C.EZETIMIBE,),
    "C10AX13": (C.PCSK9I,),  # evolocumab
    "C10AX14": (C.PCSK9I,),  # alirocumab
    "C10AX16": (C.PCSK9I,),  # inclisiran
    "C10BA": (C.STATIN,),  # statin combinations; partners found by name, or below
    "C10BA02": (C.STATIN, C.EZETIMIBE),  # simvastatin and ezetimibe
    "C10BA05": (C.STATIN, C.EZETIMIBE),  # atorvastatin and ezetimibe
    "C10BA06": (C.STATIN, C.EZETIMIBE),  # rosuvastatin and ezetimibe
    "C10BX03": (C.STATIN, C.CCB),  # atorvastatin and amlodipine
    "C09A": (C.ACEI,),
    "C09B": (C.ACEI,),
    "C09BA": (C.ACEI, C.THIAZIDE),  # ACE inhibitors and diuretics
    "C09BB": (C.ACEI, C.CCB),  # ACE inhibitors and calcium channel blockers
    "C09C": (C.ARB,),
    "C09D": (C.ARB,),
    "C09DA": (C.ARB, C.THIAZIDE),  # ARBs and diuretics
    "C09DB": (C.ARB, C.CCB),  # ARBs and calcium channel blockers
    "C09DX04": (C.ARNI,),  # valsartan and sacubitril
    "C08": (C.CCB,),
    "C03A": (C.THIAZIDE,),
    "C03BA": (C.THIAZIDE,),  # thiazide-like: chlortalidone, indapamide
    "C03C": (C.LOOP_DIURETIC,),
    "C03DA": (C.MRA,),  # spironolactone, eplerenone, finerenone
    "C07": (C.BETA_BLOCKER,),
    "B01AC": (C.ANTIPLATELET,),
    "B01AA": (C.ANTICOAGULANT,),  # vitamin K antagonists
    "B01AB": (C.ANTICOAGULANT,),  # heparins
    "B01AE": (C.ANTICOAGULANT,),  # direct thrombin inhibitors
    "B01AF": (C.ANTICOAGULANT,),  # direct factor Xa inhibitors
}


def atc_classes(code: str) -> tuple[C, ...]:
    c = code.strip().upper().replace(" ", "")
    for n in range(len(c), 2, -1):
        hit = ATC_PREFIXES.get(c[:n])
        if hit:
            return hit
    return ()


RXNORM_INGREDIENTS: dict[str, tuple[C, ...]] = {
    "6809": (C.METFORMIN,),  # metformin
    "274783": (C.INSULIN,),  # insulin glargine
    "86009": (C.INSULIN,),  # insulin lispro
    "51428": (C.INSULIN,),  # insulin aspart
    "4821": (C.SULFONYLUREA,),  # glipizide
    "4815": (C.SULFONYLUREA,),  # glyburide
    "25789": (C.SULFONYLUREA,),  # glimepiride
    "33738": (C.TZD,),  # pioglitazone
    "593411": (C.DPP4I,),  # sitagliptin
    "1545653": (C.SGLT2I,),  # empagliflozin
    "1488564": (C.SGLT2I,),  # dapagliflozin
    "1373458": (C.SGLT2I,),  # canagliflozin
    "475968": (C.GLP1RA,),  # liraglutide
    "1991302": (C.GLP1RA,),  # semaglutide
    "1551291": (C.GLP1RA,),  # dulaglutide
    "83367": (C.STATIN,),  # atorvastatin
    "36567": (C.STATIN,),  # simvastatin
    "301542": (C.STATIN,),  # rosuvastatin
    "42463": (C.STATIN,),  # pravastatin
    "341248": (C.EZETIMIBE,),  # ezetimibe
    "29046": (C.ACEI,),  # lisinopril
    "3827": (C.ACEI,),  # enalapril
    "35296": (C.ACEI,),  # ramipril
    "52175": (C.ARB,),  # losartan
    "69749": (C.ARB,),  # valsartan
    "17767": (C.CCB,),  # amlodipine
    "5487": (C.THIAZIDE,),  # hydrochlorothiazide
    "4603": (C.LOOP_DIURETIC,),  # furosemide
    "9997": (C.MRA,),  # spironolactone
    "6918": (C.BETA_BLOCKER,),  # metoprolol
    "1191": (C.ANTIPLATELET,),  # aspirin
    "32968": (C.ANTIPLATELET,),  # clopidogrel
    "11289": (C.ANTICOAGULANT,),  # warfarin
}

# Name patterns (matched on the lower-cased display/text). Order does not matter: every
# match adds its class. Brand names are listed with the classes of all their ingredients.
_NAME_PATTERNS: tuple[tuple[tuple[C, ...], str], ...] = (
    ((C.METFORMIN,), r"metformin|glucophage|glumetza|fortamet|riomet|二甲双胍|格华止"),
    (
        (C.INSULIN,),
        r"insulin|glargine|detemir|degludec|lispro|\baspart\b|glulisine|isophane|\bnph\b|lantus"
        r"|levemir|tresiba|toujeo|basaglar|semglee|humalog|novolog|novorapid|apidra|humulin"
        r"|novolin|fiasp|lyumjev|admelog|胰岛素|甘精|门冬|赖脯|地特|德谷|优泌乐|诺和锐|来得时",
    ),
    (
        (C.SGLT2I,),
        r"gliflozin|jardiance|farxiga|forxiga|invokana|steglatro|inpefa|格列净|欧唐静|安达唐",
    ),
    (
        (C.GLP1RA,),
        r"glutide|exenatide|lixisenatide|tirzepatide|ozempic|wegovy|rybelsus|victoza|saxenda"
        r"|trulicity|byetta|bydureon|adlyxin|lyxumia|mounjaro|zepbound|鲁肽|那肽|泊肽|诺和泰|诺和力",
    ),
    (
        (C.DPP4I,),
        r"gliptin|januvia|onglyza|tradjenta|trajenta|nesina|galvus|格列汀|捷诺维|安立泽|欧唐宁",
    ),
    (
        (C.SULFONYLUREA,),
        r"glipizide|glyburide|glibenclamide|glimepiride|gliclazide|gliquidone|tolbutamide"
        r"|chlorpropamide|tolazamide|glucotrol|amaryl|diamicron|diabeta|glynase|micronase"
        r"|格列吡嗪|格列本脲|格列美脲|格列齐特|格列喹酮|亚莫利|达美康",
    ),
    ((C.TZD,), r"glitazone|actos|avandia|格列酮"),
    (
        (C.ALPHA_GLUCOSIDASE_INHIBITOR,),
        r"acarbose|miglitol|voglibose|precose|glucobay|阿卡波糖|伏格列波糖|米格列醇|拜唐苹",
    ),
    ((C.GLINIDE,), r"glinide|prandin|starlix|格列奈|诺和龙"),
    (
        (C.STATIN,),
        r"vastatin|lipitor|zocor|crestor|pravachol|livalo|lescol|mevacor|伐他汀|立普妥|可定",
    ),
    ((C.EZETIMIBE,), r"ezetimib|zetia|ezetrol|依折麦布"),
    (
        (C.PCSK9I,),
        r"evolocumab|alirocumab|inclisiran|repatha|praluent|leqvio|依洛尤单抗|阿利西尤单抗",
    ),
    ((C.FIBRATE,), r"fibrate|gemfibrozil|tricor|lopid|贝特|吉非罗齐"),
    (
        (C.ACEI,),
        r"[a-z]pril\b|zestril|prinivil|vasotec|altace|lotensin|coversyl|accupril|普利",
    ),
    (
        (C.ARB,),
        r"sartan|cozaar|diovan|avapro|atacand|micardis|benicar|olmetec|edarbi|沙坦|科素亚|代文",
    ),
    ((C.ARNI,), r"sacubitril|entresto|沙库巴曲|诺欣妥"),
    (
        (C.CCB,),
        r"dipine|diltiazem|verapamil|norvasc|procardia|adalat|cardizem|地平|地尔硫|维拉帕米|络活喜",
    ),
    (
        (C.THIAZIDE,),
        r"thiazide|chlorthalidone|chlortalidone|indapamide|metolazone|\bhctz\b|噻嗪|吲达帕胺",
    ),
    (
        (C.LOOP_DIURETIC,),
        r"furosemide|frusemide|bumetanide|torsemide|torasemide|ethacryn|lasix|呋塞米|托拉塞米|布美他尼",
    ),
    (
        (C.MRA,),
        r"spironolactone|eplerenone|finerenone|aldactone|inspra|kerendia|螺内酯|依普利酮|非奈利酮",
    ),
    (
        (C.BETA_BLOCKER,),
        r"[a-z]olol\b|carvedilol|labetalol|nebivolol|toprol|lopressor|tenormin|coreg|bystolic"
        r"|洛尔|卡维地洛",
    ),
    (
        (C.ANTIPLATELET,),
        r"aspirin|acetylsalicylic|clopidogrel|prasugrel|ticagrelor|plavix|brilinta|effient"
        r"|阿司匹林|氯吡格雷|替格瑞洛",
    ),
    (
        (C.ANTICOAGULANT,),
        r"warfarin|apixaban|rivaroxaban|dabigatran|edoxaban|heparin|enoxaparin|coumadin"
        r"|eliquis|xarelto|pradaxa|savaysa|lovenox|华法林|沙班|达比加群|肝素",
    ),
    # Brand names of combinations (ingredients not always in the display).
    ((C.DPP4I, C.METFORMIN), r"janumet|jentadueto|kombiglyze|kazano|eucreas|捷诺达"),
    ((C.SGLT2I, C.METFORMIN), r"synjardy|xigduo|invokamet|segluromet"),
    ((C.SGLT2I, C.DPP4I), r"glyxambi|qtern|steglujan"),
    ((C.SGLT2I, C.DPP4I, C.METFORMIN), r"trijardy"),
    ((C.INSULIN, C.GLP1RA), r"xultophy|soliqua|suliqua"),
    ((C.TZD, C.METFORMIN), r"actoplus"),
    ((C.TZD, C.SULFONYLUREA), r"duetact"),
    ((C.SULFONYLUREA, C.METFORMIN), r"glucovance"),
    ((C.STATIN, C.EZETIMIBE), r"vytorin|roszet"),
    ((C.STATIN, C.CCB), r"caduet"),
    ((C.ACEI, C.THIAZIDE), r"zestoretic|vaseretic|lotensin hct"),
    ((C.ARB, C.THIAZIDE), r"hyzaar|diovan hct|benicar hct|micardis hct"),
    ((C.ARB, C.CCB), r"exforge|azor|twynsta"),
    ((C.ACEI, C.CCB), r"lotrel|prestalia"),
)
_COMPILED = tuple((classes, re.compile(p)) for classes, p in _NAME_PATTERNS)
_NOT_A_DRUG = re.compile(r"needle|syringe|lancet|test strip|glucometer|meter\b|pump supplies|针头")


def is_supply(name: str) -> bool:
    """Pen needles, syringes, test strips...: on medication lists, not medications."""
    return bool(_NOT_A_DRUG.search(name.lower()))


def name_classes(name: str) -> tuple[C, ...]:
    """Classes named in a display/text; () for supplies (pen needles, test strips)."""
    s = name.lower()
    if not s or _NOT_A_DRUG.search(s):
        return ()
    found: list[C] = []
    for classes, pattern in _COMPILED:
        if pattern.search(s):
            found += [c for c in classes if c not in found]
    if C.ARNI in found and C.ARB in found:
        found.remove(C.ARB)  # sacubitril/valsartan is an ARNI, not an ARB
    return tuple(found)
