"""Chinese identifiers without a spaCy Chinese model: patterns and a surname dictionary.

- resident ID: 18 characters with a valid GB 11643 check character (or the 15-digit legacy form);
  other 15-18 digit runs labelled as an ID number are redacted too (fail closed);
- mobile (1[3-9]x xxxx xxxx, optional +86) and landline numbers (0xx(x)-xxxxxxx(x), extension);
- medical-insurance, inpatient, outpatient, case and bed numbers after their labels (医保号, 住院号 ...);
- personal names: a surname from the list followed by one or two given-name characters, after a context
  (患者/家属/医师/护士/联系人/姓名: ...) or before a title (先生/女士/医生/护士 ...);
- addresses: province/city/district/county/town/street/road/number/building/room sequences;
- dates: 2025年3月14日 (with a time), 2025年3月, 3月14日, 2025-03-14, 2025/3/14, 2025.03.14; ages of 90 or more.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from deid.text.regex_rule import Pattern, RegexRule
from deid.text.resident_id import is_valid_resident_id
from deid.text.rule import Hit

SINGLE_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆"
    "汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍"
    "庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华"
    "喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和"
    "仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉"
    "伊仝区郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘"
    "亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由"
)
COMPOUND_SURNAMES = (
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 钟离 端木 南宫 西门 独孤 百里 呼延 东郭 "
    "澹台 公冶 太史 申屠 万俟 闻人 赫连 第五"
).split()
_SURNAME = "(?:" + "|".join(COMPOUND_SURNAMES) + "|[" + SINGLE_SURNAMES + "])"
# characters that end a name: grammar words, clinical words and punctuation commonly right after a name
_NOT_GIVEN = (
    "，。、；：,.;:！？!?（）()\\s\\d男女年岁于因在今昨主入出的是为和与及等诉述来已于被将由至到从自向对把"
    "病患者家属医师生护士院科室号床先女性住门诊急查术后前体温血压心肺腹无有未见示予给行服用"
)
_GIVEN = f"(?![{_NOT_GIVEN}])[\\u4e00-\\u9fff](?:(?![{_NOT_GIVEN}]|{'|'.join(['签字', '签名', '查房', '陪同', '同意', '诉', '代诉', '陈述', '知情'])})[\\u4e00-\\u9fff])?"
# words that follow a title but are not names ("主任查房", "医师建议")
_NOT_NAME = "(?!查房|指示|建议|认为|查看|会诊|同意|告知|交代|讲解|签字|在场|陪同|要求|表示|诊断|考虑|查体|手术|随访)"
_NAME_BEFORE = (
    r"(?:患者|病人|病员|患儿|患方|家属|家长|联系人|监护人|委托人|代理人|陪护|姓名|签名|签字|医师|医生|主治医师|主任医师|"
    r"住院医师|主任|护士|护师|护士长|药师|技师|之子|之女|儿子|女儿|妻子|丈夫|父亲|母亲|爱人|配偶|哥哥|姐姐|弟弟|妹妹|"
    r"孙子|孙女|朋友|同事|经治医生|记录者|记录人|报告人|审核人|操作者|手术者|麻醉师|老伴|家人|亲属|责任护士)[:：\s（(]*"
)
_NAME_AFTER = r"(?=(?:先生|女士|小姐|医生|医师|大夫|护士|主任|老师|同志|教授|阿姨|叔叔|师傅))"

_CN_NUM = "[0-9０-９一二三四五六七八九十百零〇两]"
# characters that never start or sit inside a place name: dates, verbs of movement, grammar words
_NOT_PLACE = "年月日号时分入住院于在至到从向往来去的和与及因诊以经由就送转，。、；：（）()\\s\\d"
_PLACE_CHAR = f"(?![{_NOT_PLACE}])[\\u4e00-\\u9fff]"
_FACILITY = (
    r"(?:第[一二三四五六七八九十\d]+人民医院|人民医院|中医医院|中西医结合医院|中心医院|附属医院|儿童医院|妇幼保健院|"
    r"医院|卫生院|保健院|社区卫生服务中心|卫生服务中心|卫生服务站|卫生室|诊所|门诊部|医疗中心)"
)
_FACILITY_CUE = "(?:" + "|".join(f"(?<={c})" for c in "入住 转入 转至 转往 转诊至 就诊于 送至 送往 来自 收入 住院于 于 在 到 至".split()) + ")"
_ADMIN = (
    r"(?:[\u4e00-\u9fff]{2,7}?(?:省|自治区|特别行政区))?(?:[\u4e00-\u9fff]{2,7}?(?:市|自治州|地区|盟))?"
    r"(?:[\u4e00-\u9fff]{1,7}?(?:特区|区|县|旗))?(?:[\u4e00-\u9fff]{1,7}?(?:街道|镇|乡))?"
)
_STREET = (
    r"[\u4e00-\u9fff0-9]{1,10}?(?:路|街|大道|巷|弄|胡同|村)"
    rf"(?:{_CN_NUM}+(?:号院|号|弄|巷))?(?:(?:{_CN_NUM}+|[A-Za-z])(?:号楼|栋|幢|座|单元|楼|层|室|户))*(?:[0-9]{{2,5}}(?![0-9号]))?"
)
PROVINCES = (
    "北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 海南 四川 贵州 云南 "
    "陕西 甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆 香港 澳门"
).split()
_PROVINCE = "(?:" + "|".join(PROVINCES) + ")"

CHINESE_PATTERNS = [
    # dates (with an optional time)
    Pattern(
        "DATE",
        re.compile(
            r"(?:\d{4}|[一二〇零○][一二三四五六七八九〇零○]{3})年\d{1,2}月(?:\d{1,2}[日号])?"
            r"(?:\s*(?:上午|下午|晚上|凌晨|中午)?\s*\d{1,2}(?:[:：]\d{2}|[时点](?:\d{1,2}分)?))?"
        ),
        0.95,
    ),
    Pattern("DATE", re.compile(r"(?<!\d)\d{1,2}月\d{1,2}[日号](?:\s*\d{1,2}(?:[:：]\d{2}|[时点](?:\d{1,2}分)?))?"), 0.9),
    Pattern("DATE", re.compile(r"(?<![\d.])(?:19|20)\d\d[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?(?![\d.])"), 0.95),
    # phones
    Pattern("PHONE", re.compile(r"(?<!\d)(?:\+?86[\s\-]?)?1[3-9]\d[\s\-]?\d{4}[\s\-]?\d{4}(?!\d)"), 0.95),
    Pattern("PHONE", re.compile(r"(?<!\d)(?:\(0\d{2,3}\)|0\d{2,3})[\s\-]?\d{7,8}(?:\s*(?:转|-|ext)\s*\d{1,5})?(?!\d)"), 0.9),
    Pattern("PHONE", re.compile(r"(?:电话|手机|联系方式|联系电话|座机|Tel|TEL)[:：\s]*(\d[\d\s\-]{5,15}\d)"), 0.9, 1),
    # numbers after labels: insurance, inpatient, outpatient, case, bed, card, ID, passport
    Pattern(
        "ID",
        re.compile(
            r"(?:医保|医疗保险|社保|社会保障|新农合|住院|门诊|急诊|病案|病历|就诊|登记|检查|标本|床|卡|证件|身份证|护照|"
            r"军官证|档案|ID)(?:号码|号|卡号|编号|证号|单号)?[:：\s]*([A-Za-z]{0,4}\d[A-Za-z0-9\-]{2,})"
        ),
        0.95,
        1,
    ),
    # ages >= 90
    Pattern("AGE", re.compile(r"(?<!\d)(9\d|1[0-4]\d)(?=\s*(?:岁|周岁))"), 0.9, 1),
    Pattern("AGE", re.compile(r"(?:年龄|年纪)[:：\s]*(9\d|1[0-4]\d)(?!\d)"), 0.9, 1),
    # names
    Pattern("PERSON", re.compile(_NAME_BEFORE + _NOT_NAME + "(" + _SURNAME + _GIVEN + ")"), 0.85, 1),
    Pattern("PERSON", re.compile("(" + _SURNAME + r"[\u4e00-\u9fff]{0,2}?)" + _NAME_AFTER), 0.8, 1),
    Pattern("PERSON", re.compile(r"(" + _SURNAME + r")某+"), 0.8, 1),
    # hospitals named by their place ("某某市人民医院", "浙江省肿瘤医院")
    Pattern("LOCATION", re.compile(_PLACE_CHAR + "{2,8}?(?:省|市|县|区)" + _PLACE_CHAR + "{0,8}?" + _FACILITY), 0.7),
    Pattern("LOCATION", re.compile(_FACILITY_CUE + _PLACE_CHAR + "{1,12}?" + _FACILITY), 0.75),
    Pattern("LOCATION", re.compile("(?:" + _SURNAME + ")氏" + _FACILITY), 0.75),
    # names right before what they said or signed: "王芳代诉", "李四签字"
    Pattern("PERSON", re.compile("(?:(?<=[。，；：\\s（(])|^)(" + _SURNAME + _GIVEN + ")(?=代诉|陈述|签字|签名|口述|诉)"), 0.8, 1),
    # postal codes
    Pattern("ADDRESS", re.compile(r"(?:邮编|邮政编码)[:：\s]*(\d{6})(?!\d)"), 0.9, 1),
    # addresses
    Pattern(
        "ADDRESS",
        re.compile(r"(?:住址|地址|家住|住在|现住|居住于|居住在|户籍地?|籍贯|来自)[:：\s]*(" + _ADMIN + "(?:" + _STREET + ")?)"),
        0.9,
        1,
    ),
    Pattern("ADDRESS", re.compile(_PROVINCE + r"(?:省|市|自治区)?" + _ADMIN + "(?:" + _STREET + ")?"), 0.85),
    Pattern("ADDRESS", re.compile(r"[\u4e00-\u9fff]{2,7}?(?:市|区|县)" + _STREET), 0.85),
    Pattern("ADDRESS", re.compile(r"[\u4e00-\u9fff]{1,8}(?:小区|花园|公寓|大厦|新村|家园)(?:" + _CN_NUM + r"+(?:号楼|栋|幢|单元|层|室|号))*"), 0.85),
]


class ResidentIdRule:
    """18/15-digit runs: valid GB 11643 numbers score 1.0; other runs of that length still count (fail closed)."""

    name = "cn-resident-id"
    _RUN = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")

    def find(self, text: str) -> Iterable[Hit]:
        for m in self._RUN.finditer(text):
            yield Hit(m.start(), m.end(), "ID", 1.0 if is_valid_resident_id(m.group()) else 0.7)


class NameListRule:
    """Names listed after a first one: "家属张三、李四", "医师王芳和刘洋"."""

    name = "cn-name-lists"
    _FIRST = re.compile(_NAME_BEFORE + _NOT_NAME + _SURNAME + _GIVEN)
    _NEXT = re.compile(r"(?:、|和|及|与)(" + _SURNAME + _GIVEN + ")")

    def find(self, text: str) -> Iterable[Hit]:
        for m in self._FIRST.finditer(text):
            pos = m.end()
            while (nxt := self._NEXT.match(text, pos)) is not None:
                yield Hit(nxt.start(1), nxt.end(1), "PERSON", 0.8)
                pos = nxt.end()


class MixedScriptNameRule:
    """Chinese names inside English text and romanised names in brackets after a Chinese name:
    "Patient 陈小明 (Chen Xiaoming)", "患者陈小明（Chen Xiaoming）". A run of two to four ideographs that starts
    with a surname and stands alone between non-Chinese characters is a name in an English note."""

    name = "cn-mixed-script-names"
    _ALONE = re.compile(r"(?<![\u4e00-\u9fff])(" + _SURNAME + r"[\u4e00-\u9fff]{1,2})(?![\u4e00-\u9fff])")
    _ROMANISED = re.compile(r"\s*[（(]\s*([A-Z][a-z]+(?:[\s\-]+[A-Z][a-z]+){0,2})\s*[）)]")

    _LATIN_BEFORE = re.compile(r"[A-Za-z][A-Za-z.:]*\s*$")

    def __init__(self, standalone: bool) -> None:
        self.standalone = standalone

    def find(self, text: str) -> Iterable[Hit]:
        ends = [m.end(1) for m in CHINESE_PATTERNS_NAMES.finditer(text)]
        for m in self._ALONE.finditer(text):
            # in a Chinese note only after an English word ("Patient 陈小明"): alone, "高血压" is no name
            if self.standalone or self._LATIN_BEFORE.search(text, max(0, m.start() - 24), m.start()):
                yield Hit(m.start(1), m.end(1), "PERSON", 0.75)
                ends.append(m.end(1))
        for end in ends:
            r = self._ROMANISED.match(text, end)
            if r is not None:
                yield Hit(r.start(1), r.end(1), "PERSON", 0.8)


CHINESE_PATTERNS_NAMES = re.compile(_NAME_BEFORE + _NOT_NAME + "(" + _SURNAME + _GIVEN + ")")


def chinese_rules() -> list[RegexRule | ResidentIdRule | NameListRule | MixedScriptNameRule]:
    return [RegexRule("chinese-patterns", CHINESE_PATTERNS), ResidentIdRule(), NameListRule(), MixedScriptNameRule(False)]
