"""Does a bot text ask the user for a secret? The editor-safety check of `walletbot validate`.

Support never asks for a password, a verification code, a full card number or the CVV, and the
bot must not either: an FAQ answer that says "请把验证码发给客服核实" teaches users exactly what
scammers ask of them. Bot texts mention these words all the time to warn ("验证码不要告诉任何
人"), so the check reads clause by clause: a secret and a request to hand it over, in a clause
that neither negates the request nor reports what someone else might say ("如果有人让您提供…").
"""

from __future__ import annotations

import re

# What must never be handed over. Indirect names count: 收到的6位数字 is the code.
SECRET = re.compile(
    r"(?i)(支付密码|交易密码|登录密码|旧密码|密码|口令|验证码|校验码|认证码|动态码|短信码|验证短信|短信截图|短信里|短信中|邮件里的重置链接|重置链接"
    r"|收到的[^，。]{0,6}(数字|码)|那串数字|\d\s*位数字|[四六]位数|三个数字|三位(数|码)|3\s*位(数|码|验证码)"
    r"|cvv2?|cvc|cvn|安全码|pin码?|完整(的)?(\d+位)?(银行)?卡号|卡号|卡的正反面|卡背面|背面|有效期"
    r"|屏幕共享|共享(一下)?屏幕|屏幕分享|分享屏幕|share your screen"
    r"|里面的数字|(?<![a-z])otp(?![a-z])|(?<![a-z])code(?![a-z])|password|card number|verification)"
)
# A request to hand something over: to me, to us, to support, into this chat.
REQUEST = re.compile(
    r"(?i)(发给(?!您|你)|(?<!您)(?<!你)(?<!会)发送(?!到您|给您|到你)|补充|发我|发过来|发一下|发在这里|发到这里|发送给|发来|告诉我|告诉客服|告诉工作人员|告知|提供|报一下|报给|报一报|念一下|念给|读给|说给|说出|口头告诉"
    r"|回复(到|给|我|您的|短信里|在)?|填写在本|填在这里|填到这条|输入在|打在这里|(对话|聊天)(框)?(里|中|内)?(输入|填写|发送)|填写您的|(下方)?回复框中填写"
    r"|转发给|复制给|粘贴到|上传|留给|私信|给我|一并发|一起发|多少|是\s*$|需要您的|需要您提供|需要：|需要您"
    r"|打开屏幕|共享一下|屏幕分享|拍照"
    r"|(?<![a-z])(send|share|provide|give|tell me)(?![a-z]))"
)
# The clause says not to, or that nobody will ask.
NEGATION = re.compile(
    r"(?i)(不要|不用给|别给|别发|别在|请勿|勿|切勿|不会|绝不|不必|无需|不用|不需要|千万不|从不|一律不|谁要都|never|do not|don't|will not|won't)"
)
# The clause reports someone else's request (a scammer's), or gives a condition for a warning.
REPORTED = re.compile(
    r"(如果有人|如有人|若有人|有人要求|有人说|有人让|对方|陌生|别人|他人|自称|来电|骗子|客服若|若问|如果对方|无论对方|以客服名义)"
)
# Handing a part of a card number that identifies it (后四位, 尾号) is fine.
HARMLESS = re.compile(r"(后四位|后4位|尾号|末四位)")
CLAUSES = re.compile(r"[，,。；;！!？?\n（）()]")
SENTENCES = re.compile(r"[。！!？?\n]")
QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"")
SHORT_CLAUSE = 8  # 麻烦一起发过来: a request with no object of its own refers to the clause before


def asks_for_secret(text: str) -> str | None:
    """The clause that asks for a secret, or None."""
    for sentence in SENTENCES.split(QUOTED.sub("", text)):
        previous_secret = False
        for clause in (c.strip() for c in CLAUSES.split(sentence) if c.strip()):
            secret = SECRET.search(clause) is not None and not HARMLESS.search(clause)
            request = REQUEST.search(clause) is not None
            refers_back = request and not secret and previous_secret and len(clause) <= SHORT_CLAUSE
            if request and (secret or refers_back) and not NEGATION.search(clause) and not REPORTED.search(clause):
                return clause
            previous_secret = secret
    return None
