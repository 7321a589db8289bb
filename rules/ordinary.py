"""Ordinary shop text: the sentences most of a product page is made of, with nothing to flag.

Two users: `fangxin bench rules` builds its throughput corpus from ``ordinary_sentence`` (with
lawful hard negatives and one violation per page mixed in), and `fangxin rules lint` checks pages
of ``ordinary_text`` to find trigger literals that occur in such text and so cost a regex window
or a candidate on nearly every page (rules.lint.ordinary_load).

The bench's templates are kept as they were when its figures were first taken, so throughput
stays comparable across versions; ``PAGE_FURNITURE`` adds the headings and notices that frame
real product pages, for the lint only.
"""

from __future__ import annotations

import random

PRODUCTS = ["纯棉T恤", "不锈钢保温杯", "蓝牙耳机", "电饭煲", "儿童书包", "羽绒服", "运动鞋", "空气炸锅",
            "台灯", "收纳箱", "床上四件套", "登山包", "机械键盘", "陶瓷餐具", "真丝围巾", "婴儿推车"]
MATERIALS = ["棉", "304不锈钢", "ABS塑料", "实木", "涤纶", "铝合金", "陶瓷", "硅胶"]
TEMPLATES = [
    "{p}采用{m}材质，做工细致，适合日常使用。",
    "{p}尺寸为{a}厘米×{b}厘米，重量约{c}克，颜色有黑、白、灰三种可选。",
    "下单后{a}小时内发货，默认中通快递，偏远地区运费另计。",
    "{p}的包装清单：主机一台、说明书一份、保修卡一张。",
    "收到{p}后请先检查外观，如有破损请在签收时拒收并联系客服。",
    "本款{p}支持{a}天无理由退换货，退回时请保持商品完好。",
    "买家评价：{p}质量不错，物流也快，包装很用心。",
    "{p}清洁时请用湿布擦拭，不要用腐蚀性清洁剂。",
    "店铺地址：{m}路{a}号，营业时间为每天九点至二十一点。",
    "本店支持开具电子发票，请在下单时填写抬头和税号。",
    "{p}的产地为浙江，执行标准见商品标签。",
    "如需批量采购{p}，请联系客服获取报价单。",
    "{p}适合{a}至{b}岁人群使用，具体以说明书为准。",
    "第{a}版{p}更新了配色，其余参数与上一版相同。",
    "会员积分可在下次购物时抵扣，{a}积分抵扣1元。",
    "天气转凉，{p}是秋冬季节的常用单品。",
]
# headings and notices of real product, course and service pages (lint only)
PAGE_FURNITURE = [
    "商品详情", "规格参数", "买家秀", "买家评论（{a}）", "问大家", "店铺推荐", "看了又看", "猜你喜欢",
    "售后服务：本商品由{m}旗舰店发货并提供售后服务。", "温馨提示：因拍摄光线不同，图片与实物可能存在少许色差。",
    "发货说明：工作日{a}点前付款当天发出，节假日顺延。", "尺码表：S码适合身高155-160厘米，M码适合160-165厘米。",
    "洗涤说明：手洗或机洗轻柔模式，水温不超过{a}度。", "客服工作时间：周一至周日9:00-22:00。",
    "店铺公告：春节期间{a}日至{b}日暂停发货，订单顺延处理。", "业主须知：装修前请到物业办理登记手续。",
    "学员评价：老师讲得清楚，课后答疑也及时。", "车主评价：油耗和宣传的差不多，空间够用。",
    "课程目录：第{a}章 基础知识，第{b}章 练习讲解。", "保修政策：整机保修一年，主要部件保修{a}年。",
    "配送范围：全国（港澳台及海外地区除外）。", "价格说明：划线价格为商品的专柜价、吊牌价或曾经展示过的销售价，仅供参考。",
    "{p}累计评价{c}条，好评率{a}%。", "加入购物车", "立即购买", "收藏店铺", "联系客服",
]


def ordinary_sentence(rng: random.Random) -> str:
    """One sentence of the bench's ordinary product-page text."""
    return rng.choice(TEMPLATES).format(
        p=rng.choice(PRODUCTS), m=rng.choice(MATERIALS),
        a=rng.randint(1, 60), b=rng.randint(10, 90), c=rng.randint(100, 2000),
    )


def ordinary_pages(pages: int = 50, page_chars: int = 1500, seed: int = 11) -> list[str]:
    """Deterministic pages of ordinary text: bench sentences with page furniture among them
    (about one line in five)."""
    rng = random.Random(seed)
    out = []
    for _ in range(pages):
        parts: list[str] = []
        size = 0
        while size < page_chars:
            if rng.random() < 0.2:
                s = rng.choice(PAGE_FURNITURE).format(
                    p=rng.choice(PRODUCTS), m=rng.choice(MATERIALS),
                    a=rng.randint(1, 30), b=rng.randint(31, 60), c=rng.randint(100, 9000))
                s = s if s.endswith("。") else s + "\n"
            else:
                s = ordinary_sentence(rng)
            parts.append(s)
            size += len(s)
        out.append("".join(parts))
    return out
