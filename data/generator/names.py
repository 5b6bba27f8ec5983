"""Name pools for fictional places, units and people (all output is 示例数据)."""

from __future__ import annotations

import numpy as np

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁"
    "魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹"
    "黎易常武乔贺赖龚文翟位岳牛"
)
GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红建国志海波宁鹏飞浩然晓东亮辉俊凤梅"
    "振兴春雷庆丰德胜长林金鑫子涵雨欣家豪宇轩嘉怡梦琪佳颖新民利荣卫红爱学永福素珍桂芝"
)
VILLAGE_SUFFIXES = "庄寨庙店桥岗营楼集湾窑坡屯"
#: The real 2016 village names of 五女店镇 (§2.2): never emitted, so nothing looks real.
REAL_VILLAGE_NAMES = frozenset(
    (
        "西街",
        "南街",
        "北街",
        "丁庄",
        "小王寨",
        "新陈庄",
        "大王寨",
        "军王",
        "大二郎庙",
        "举人卢",
        "扶桥",
        "冶庄",
        "许庄",
        "位村",
        "毛王",
        "桃杖董",
        "桃杖",
        "岗丁",
        "双碑周",
        "老店",
        "苗店",
        "寨后陈",
        "白雉",
        "岗刘",
        "彭姚",
        "老庄陈",
        "刘崔吴",
        "白雾李",
        "周店",
        "柏茗",
        "坡卢",
        "马棚杨",
        "茶庵李",
        "翟庄",
        "垒草庙",
    )
)
COMMUNITY_NAMES = ("镇中社区", "东关社区", "西关社区", "南关社区", "北关社区", "新华社区")
BRANDS = (
    "鑫源",
    "兴隆",
    "宏达",
    "永盛",
    "华丰",
    "金穗",
    "顺发",
    "福瑞",
    "恒通",
    "利民",
    "惠民",
    "丰收",
    "康泰",
    "嘉禾",
    "金鼎",
    "东方",
    "中原",
    "豫丰",
    "瑞祥",
    "万家",
    "好运",
    "盛世",
    "天元",
    "益民",
    "华兴",
    "祥和",
    "宏图",
    "隆昌",
    "德润",
    "新兴",
    "同心",
    "安康",
    "富民",
    "金星",
    "开元",
    "佳美",
)


def village_name(rng: np.random.Generator, taken: set[str]) -> str:
    """Draw a fictional village name from the plains patterns of §2.2 (surname + 庄/寨/…)."""
    while True:
        s = rng.choice(list(SURNAMES), size=3, replace=False)
        suffix = VILLAGE_SUFFIXES[rng.integers(len(VILLAGE_SUFFIXES))]
        pattern = rng.integers(6)
        if pattern == 0:
            name = f"{s[0]}{suffix}"
        elif pattern == 1:
            name = f"岗{s[0]}"
        elif pattern == 2:
            name = f"{s[0]}{s[1]}{s[2]}"
        elif pattern == 3:
            name = f"{'大小'[rng.integers(2)]}{s[0]}{suffix}"
        elif pattern == 4:
            name = f"新{s[0]}{suffix}"
        else:
            name = f"{s[0]}{s[1]}{suffix}"
        if name not in taken and name not in REAL_VILLAGE_NAMES:
            taken.add(name)
            return name


def person_name(rng: np.random.Generator, taken: set[str] | None = None) -> str:
    """Draw a Chinese personal name (surname + one or two given characters), unique in ``taken``."""
    while True:
        surname = SURNAMES[rng.integers(len(SURNAMES))]
        n = 1 if rng.random() < 0.3 else 2
        given = "".join(GIVEN_CHARS[i] for i in rng.integers(len(GIVEN_CHARS), size=n))
        name = surname + given
        if taken is None:
            return name
        if name not in taken:
            taken.add(name)
            return name


def brand(rng: np.random.Generator) -> str:
    """A shop-sign word such as 鑫源 or 豫丰."""
    return BRANDS[rng.integers(len(BRANDS))]
