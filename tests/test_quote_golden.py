"""Golden quotes: exact words for fixed inputs, from a model with a hand-made distribution.

The model is a real :class:`eta.model.EtaModel` whose two LightGBM models predict constants
(log hours 0 and 1, so every item has location 0 and spread 1) and whose calibration holds a
hand-made sample of 99 durations: 0.25, 0.5, ..., 24.75 clock hours. So a new item's level-``p``
time is the ``ceil(100 p)``-th of them (P10 2.5 h, P50 12.5 h, P70 17.5 h, P90 22.5 h), and every
expected time below can be worked out by hand; the comments do it.
"""

from __future__ import annotations

import datetime as dt

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from eta.calendar import Clock
from eta.calibration import MondrianCalibration, ScoreDistribution
from eta.features import Events, model_inputs
from eta.model import EtaModel
from eta.online import OnlineCalibration
from eta.quote import prepare_items, quote_items
from eta.spec import DatasetSpec
from eta.usual import Usual

DURATIONS = np.arange(1, 100) * 0.25
"""The hand-made sample: P(T <= 0.25 k) = k / 100 (conformal: n + 1 = 100)."""

TICKETS = {
    "name": "golden_tickets",
    "kind": "resolution",
    "start": "created_at",
    "end": "resolved_at",
    "id": "ticket_id",
    "timezone": "Europe/Sarajevo",
    "clock": "business",
    "calendar": {"hours": ["09:00", "17:00"], "holidays": "BA"},
    "features": {"categorical": ["priority"]},
}
DELIVERIES = {
    "name": "golden_deliveries",
    "kind": "delivery",
    "start": "ordered_at",
    "end": "delivered_at",
    "id": "order_id",
    "timezone": "Europe/Berlin",
    "clock": "business",
    "calendar": {
        "days": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat"],
        "hours": ["08:00", "20:00"],
        "holidays": "DE",
        "cutoff": "14:00",
    },
    "features": {"categorical": ["service"]},
}


def handmade_model(raw_spec: dict) -> EtaModel:
    """A fitted-looking model whose every item follows the hand-made distribution."""
    spec = DatasetSpec.from_dict(raw_spec)
    model = EtaModel(spec)
    model.clock_ = Clock.from_spec(spec)
    column = spec.features.categorical[0]
    model.categories_ = {column: ["a", "b"]}
    model.ranges_ = {}  # no numeric features
    model.events_ = Events(
        np.array([], dtype=str), np.array([], dtype=np.int64), np.array([], dtype=np.int64),
        np.array([]),
    )  # fmt: skip
    scores = np.log(DURATIONS)
    model.calibration_ = MondrianCalibration(
        {"0:all": ScoreDistribution.fit(scores, np.ones(len(scores)))}
    )
    dummy = pd.DataFrame(
        {"start": pd.date_range("2026-01-05 10:00", periods=60, freq="h", tz="UTC"), column: "a"}
    )
    dummy["segment"] = "all"
    features = model.features(dummy)
    model.inputs_ = model_inputs(features)
    x = model._encode(features)
    model.boosters_ = {
        level: lgb.train(
            {"objective": "quantile", "alpha": level, "verbose": -1, "min_data_in_leaf": 1},
            lgb.Dataset(x, np.full(len(x), value)),
            1,
        )
        for level, value in ((0.5, 0.0), (0.9, 1.0))
    }
    model.typical_spread_ = 1.0
    model.online_ = OnlineCalibration(spec.confidence)
    model.usual_ = Usual()
    model.in_flight_ = None  # in-flight quotes follow the hand-made distribution exactly
    model.speed_, model.speed_memory_days_ = {}, 0.0  # no recent slowdown to carry forward
    model.allowance_ = None  # promises at the hand-made distribution's own quantiles
    return model


@pytest.fixture(scope="module")
def tickets() -> EtaModel:
    return handmade_model(TICKETS)


@pytest.fixture(scope="module")
def deliveries() -> EtaModel:
    return handmade_model(DELIVERIES)


def quote(
    model: EtaModel, start: str, now: str | None = None, promised: str | None = None, **kwargs
) -> pd.Series:
    spec = model.spec
    raw = pd.DataFrame({spec.id: ["X1"], spec.start: [start], spec.features.categorical[0]: "a"})
    if promised is not None:  # the promise the customer was told, in the spec's zone
        raw["promised_at"] = promised
    items, errors = prepare_items(raw, spec)
    assert errors.iloc[0] == ""
    when = None if now is None else pd.Timestamp(now, tz=spec.timezone)
    return quote_items(model, items, now=when, **kwargs).iloc[0]


def local(value: pd.Timestamp, zone: str) -> str:
    return value.tz_convert(zone).strftime("%a %Y-%m-%d %H:%M")


# A ticket opened on Thursday 30 April 2026 at 10:00 in Sarajevo. Friday 1 May is a public holiday
# (Labour Day), then the weekend; the team works 09-17. Clock hours run: Thursday 10-17 (7 h),
# Monday 4 May 09-17 (8 h, 15 h in all), Tuesday 5 May (23 h in all), ...
#   earliest P10 =  2.5 h -> Thursday 12:30
#   likely   P50 = 12.5 h -> Monday 14:30 (afternoon)
#   level 0.7    = 17.5 h -> Tuesday 11:30 -> follow-up on the full hour before: 11:00
#   promise  P90 = 22.5 h -> Tuesday 16:30 -> next full business hour: 17:00
FRESH_TICKET = "2026-04-30 10:00"
FRESH_PROMISE = "2026-05-05 17:00"


def test_ticket_across_a_public_holiday_and_a_weekend(tickets) -> None:
    q = quote(tickets, FRESH_TICKET)
    zone = "Europe/Sarajevo"
    assert local(q["earliest_at"], zone) == "Thu 2026-04-30 12:30"
    assert local(q["likely_at"], zone) == "Mon 2026-05-04 14:30"
    assert local(q["follow_up_at"], zone) == "Tue 2026-05-05 11:00"
    assert local(q["promise_at"], zone) == "Tue 2026-05-05 17:00"
    assert q["promise_hours"] == pytest.approx(23.0)  # as told: 17:00, not 16:30
    assert q["risk_codes"] == "holiday_in_window,weekend_in_window"
    assert q["customer_message"] == (
        "Most likely on Monday afternoon, and at the latest by Tuesday at 5:00\u202fPM. "
        "Tomorrow is a public holiday (International Labor Day), so it may take the full time. "
        "This period includes days when our team is off (Saturday and Sunday). "
        "We will update you on Tuesday at 11:00\u202fAM if it is not resolved by then."
    )
    assert q["follow_up_message"] == (
        "We will update you on Tuesday at 11:00\u202fAM if it is not resolved by then."
    )
    assert q["agent_summary"] == (
        "Promise (90%): Tuesday, May 5, 5:00\u202fPM; likely: Monday, May 4, 2:30\u202fPM; "
        "earliest: Thursday, April 30, 12:30\u202fPM; follow-up: Tuesday, May 5, 11:00\u202fAM. "
        "Segment: all items. Risks: holiday_in_window, weekend_in_window."
    )
    assert q["risk_notes"][0] == {
        "code": "holiday_in_window",
        "severity": "medium",
        "customer_text": (
            "Tomorrow is a public holiday (International Labor Day), so it may take the full time."
        ),
        "agent_text": (
            "Public holidays before the promise: Friday, May 1 (International Labor Day)."
        ),
    }
    assert q["window_start"] == pd.Timestamp("2026-04-30 12:30", tz=zone)
    assert q["window_end"] == pd.Timestamp("2026-05-05 17:00", tz=zone)
    assert not q["escalate"]


@pytest.mark.parametrize(
    ("locale", "message"),
    [
        (
            "bs",
            "Vaš zahtjev će najvjerovatnije biti riješen u ponedjeljak poslijepodne, a najkasnije "
            "u utorak do 17:00. Sutra je praznik (Međunarodni praznik rada), pa bi moglo potrajati "
            "do krajnjeg roka. U ovaj period ulaze i neradni dani našeg tima (subota i nedjelja). "
            "Ako do tada ne bude riješen, javit ćemo Vam se u utorak u 11:00.",
        ),
        (
            "ru",
            "Скорее всего, Ваш запрос будет решён в понедельник во второй половине дня, самое "
            "позднее — во вторник до 17:00. Завтра — праздничный день, поэтому может потребоваться "
            "всё отведённое время. В этот срок входят нерабочие дни нашей команды (суббота и "
            "воскресенье). Мы свяжемся с Вами во вторник в 11:00, если вопрос к тому времени не "
            "будет решён.",
        ),
        (
            "fa",
            "درخواست شما به احتمال زیاد دوشنبه بعدازظهر و حداکثر سه‌شنبه تا ساعت ۱۷:۰۰ حل خواهد شد. "
            "فردا تعطیل رسمی است، بنابراین ممکن است تمام این مدت لازم باشد. "
            "این مدت شامل روزهای تعطیل تیم ما (شنبه و یکشنبه) نیز می‌شود. "
            "اگر درخواست شما زودتر حل نشود، سه‌شنبه ساعت ۱۱:۰۰ آخرین وضعیت را به اطلاعتان می‌رسانیم.",
        ),
        (
            "en_GB",
            "Most likely on Monday afternoon, and at the latest by Tuesday at 17:00. Tomorrow is a "
            "public holiday (International Labor Day), so it may take the full time. This period "
            "includes days when our team is off (Saturday and Sunday). We will update you on "
            "Tuesday at 11:00 if it is not resolved by then.",
        ),
        (
            "pt_BR",
            "Sua solicitação provavelmente será resolvida na segunda-feira à tarde, e no máximo "
            "até terça-feira às 17:00. Amanhã é feriado, por isso pode ser necessário todo o "
            "prazo. Este período inclui dias em que nossa equipe não trabalha (sábado e domingo). "
            "Entraremos em contato com você na terça-feira às 11:00 se a solicitação não tiver "
            "sido resolvida até lá.",
        ),
        (
            "es",
            "Lo más probable es que su solicitud se resuelva el lunes por la tarde y, a más "
            "tardar, el martes a las 17:00. Mañana es festivo, por lo que podría necesitarse "
            "todo el plazo. Este periodo incluye días en que nuestro equipo no trabaja (sábado y "
            "domingo). Le informaremos el martes a las 11:00 si para entonces no se ha resuelto.",
        ),
        (
            "de",
            "Wir erledigen Ihre Anfrage voraussichtlich am Montagnachmittag, "
            "spätestens am Dienstag bis 17:00 Uhr. Morgen ist ein Feiertag, daher kann es bis zum "
            "zugesagten Termin dauern. In diesen Zeitraum fallen Tage, an denen unser Team nicht "
            "arbeitet (Samstag und Sonntag). Wir melden uns am Dienstag um 11:00 Uhr bei Ihnen, "
            "falls Ihre Anfrage bis dahin nicht erledigt ist.",
        ),
        (
            "fr_BE",
            "Votre demande devrait être résolue lundi dans l'après-midi, et au plus "
            "tard mardi à 17:00. Demain est un jour férié, il faudra donc peut-être tout le délai "
            "annoncé. Cette période comprend des jours où notre équipe ne travaille pas (samedi "
            "et dimanche). Nous reviendrons vers vous mardi à 11:00 si votre demande n'est pas "
            "résolue d'ici là.",
        ),
        (
            "nl",
            "Uw verzoek is naar verwachting op maandagmiddag opgelost, uiterlijk op "
            "dinsdag om 17:00 uur. Morgen is een feestdag, waardoor het tot de uiterste datum kan "
            "duren. In deze periode vallen dagen waarop ons team niet werkt (zaterdag en zondag). "
            "We nemen op dinsdag om 11:00 uur contact met u op als uw verzoek dan nog niet is "
            "opgelost.",
        ),
    ],
)
def test_the_same_ticket_in_each_language(tickets, locale, message) -> None:
    q = quote(tickets, FRESH_TICKET, locale=locale)
    assert q["customer_message"] == message
    assert q["locale"] == locale and q["locale_note"] == ""
    assert q["text_direction"] == ("rtl" if locale == "fa" else "ltr")


def test_an_unknown_locale_is_answered_in_english_with_a_note(tickets) -> None:
    q = quote(tickets, FRESH_TICKET, locale="it")
    assert q["locale"] == "en"
    assert q["locale_note"] == "locale 'it' is not available; answered in English"
    assert q["customer_message"].startswith("Most likely on Monday afternoon, and at the latest")


def test_a_ticket_in_progress_is_re_quoted_from_the_time_already_spent(tickets) -> None:
    # On Monday 4 May at 11:06 it has been open 7 + 2.1 = 9.1 clock hours. 36 of the 99 durations
    # are <= 9.1 h, so F(9.1) = 0.36 and level p of T | T > 9.1 is level 0.36 + 0.64 p:
    #   earliest 0.424 -> 43rd = 10.75 h -> Monday 12:45
    #   likely   0.68  -> 68th = 17 h    -> Tuesday 11:00 (tomorrow morning)
    #   0.808          -> 81st = 20.25 h -> Tuesday 14:15 -> follow-up 14:00
    #   promise  0.936 -> 94th = 23.5 h  -> Wednesday 09:30 -> 10:00
    q = quote(tickets, FRESH_TICKET, now="2026-05-04 11:06")
    zone = "Europe/Sarajevo"
    assert q["elapsed_hours"] == pytest.approx(9.1)
    assert local(q["earliest_at"], zone) == "Mon 2026-05-04 12:45"
    assert local(q["likely_at"], zone) == "Tue 2026-05-05 11:00"
    assert local(q["follow_up_at"], zone) == "Tue 2026-05-05 14:00"
    assert local(q["promise_at"], zone) == "Wed 2026-05-06 10:00"
    assert q["risk_codes"] == ""
    assert q["customer_message"] == (
        "We are already working on your request. Most likely tomorrow morning, and at the latest "
        "by Wednesday at 10:00\u202fAM. We will update you tomorrow at 2:00\u202fPM if it is not "
        "resolved by then."
    )
    assert q["agent_summary"] == (
        "Promise (90%): Wednesday, May 6, 10:00\u202fAM; likely: Tuesday, May 5, 11:00\u202fAM; "
        "earliest: Monday, May 4, 12:45\u202fPM; follow-up: Tuesday, May 5, 2:00\u202fPM. "
        "In progress: 9.1 h (business hours). Segment: all items. No risks noted."
    )


def test_an_overdue_ticket_gets_an_apology_a_new_promise_and_escalation(tickets) -> None:
    # On Thursday 7 May at 12:00 it has been open 7 + 8 + 8 + 8 + 3 = 34 clock hours, past its
    # promise (22.5 h) and past every duration in the sample. Beyond the sample's 95th percentile
    # (23.75 h) scores follow an exponential tail. Its four log excesses sum to only 0.104, so its
    # rate is mostly the prior's, ten exceedances at log 5: (10 + 4) / (10 / log 5 + 0.104) =
    # 2.216, and level p is 34 h * exp(-log(1 - p) / 2.216):
    #   earliest (0.1) 35.66 h -> 13:40; likely 46.48 h -> Fri 16:29 -> 16:30 (tomorrow);
    #   promise 96.09 h -> Tue 19 May 10:05 -> 11:00, across two weekends.
    # Escalated, it hears back within a new ticket's likely time (12.5 h) from now, not after
    # its own likely time: Thursday 12-17 (5 h), Friday 09:00 + 7.5 h = 16:30 -> 16:00.
    q = quote(tickets, FRESH_TICKET, now="2026-05-07 12:00", promised=FRESH_PROMISE)
    zone = "Europe/Sarajevo"
    rate = 14 / (10 / np.log(5) + 4 * 0.0259097)
    assert local(q["earliest_at"], zone) == "Thu 2026-05-07 13:40"
    assert local(q["likely_at"], zone) == "Fri 2026-05-08 16:30"
    assert local(q["follow_up_at"], zone) == "Fri 2026-05-08 16:00"
    assert local(q["promise_at"], zone) == "Tue 2026-05-19 11:00"
    calibrated = 34 * np.exp(np.log(10) / rate)
    assert calibrated == pytest.approx(96.09, abs=0.01)
    assert q["promise_hours"] == pytest.approx(97.0)  # as told: 11:00, not 10:05
    assert q["escalate"]
    assert q["risk_codes"] == "overdue,weekend_in_window"
    assert q["customer_message"] == (
        "This is taking longer than we promised, and we are sorry: we have escalated it. "
        "Most likely tomorrow afternoon, and at the latest by Tuesday, May 19 at 11:00\u202fAM. "
        "This period includes days when our team is off (Saturday and Sunday). "
        "We will update you tomorrow at 4:00\u202fPM if it is not resolved by then."
    )
    assert q["risk_notes"] == [
        {
            "code": "overdue",
            "severity": "high",
            "customer_text": (
                "This is taking longer than we promised, and we are sorry: we have escalated it."
            ),
            "agent_text": (
                # 34 and 23 clock hours of 8-hour working days
                "Past the promise: in progress for about 4.2 working days, the promise was "
                "about 2.9 working days. "
                "Apologise, escalate and give the new promise."
            ),
        },
        {
            "code": "weekend_in_window",
            "severity": "low",
            "customer_text": (
                "This period includes days when our team is off (Saturday and Sunday)."
            ),
            "agent_text": "Non-working days before the promise: Saturday and Sunday.",
        },
    ]


def test_a_ticket_past_a_new_tickets_promise_told_nothing_is_not_told_a_promise_was_broken(
    tickets,
) -> None:
    """Without ``promised_at`` the engine does not know what the customer was told: past the
    promise a new ticket gets, the customer hears it takes longer than usual, the agent why."""
    q = quote(tickets, FRESH_TICKET, now="2026-05-07 12:00")
    told = quote(tickets, FRESH_TICKET, now="2026-05-07 12:00", promised=FRESH_PROMISE)
    assert q["escalate"] and q["promise_at"] == told["promise_at"]
    assert q["risk_notes"][0] == {
        "code": "overdue",
        "severity": "high",
        "customer_text": "This is taking longer than usual, and we are sorry for the wait.",
        "agent_text": (
            "Longer than the promise a new item like this gets (about 2.9 working days): in "
            "progress for about 4.2 working days. The promise the customer was told is not "
            "known (no promised_at): if it has passed, apologise and escalate."
        ),
    }


def test_an_overdue_ticket_in_bosnian(tickets) -> None:
    q = quote(tickets, FRESH_TICKET, now="2026-05-07 12:00", promised=FRESH_PROMISE, locale="bs")
    assert q["customer_message"] == (
        "Izvinjavamo se što ovo traje duže nego što smo obećali; predmet smo proslijedili na "
        "prioritetnu obradu. Vaš zahtjev će najvjerovatnije biti riješen sutra poslijepodne, a "
        "najkasnije u utorak, 19. 5., do 11:00. U ovaj period ulaze i neradni dani našeg tima "
        "(subota i nedjelja). Ako do tada ne bude riješen, javit ćemo Vam se sutra u 16:00."
    )


# A parcel ordered on Wednesday 24 December 2025 at 16:00 in Berlin, after the 14:00 cut-off.
# Thursday 25 and Friday 26 are public holidays, so the clock starts on Saturday 27 at 08:00.
# Carriers work Monday to Saturday, 08-20 (12 h a day): Saturday 12 h, Monday 29 to 24 h,
# Tuesday 30 to 36 h.
#   earliest 2.5 h -> Saturday 10:30; likely 12.5 h -> Monday 08:30;
#   17.5 h -> Monday 13:30 -> follow-up 13:00; promise 22.5 h -> Monday 18:30 -> the date: Monday.
def test_a_delivery_ordered_after_the_cut_off_before_holidays(deliveries) -> None:
    q = quote(deliveries, "2025-12-24 16:00")
    zone = "Europe/Berlin"
    assert local(q["earliest_at"], zone) == "Sat 2025-12-27 10:30"
    assert local(q["likely_at"], zone) == "Mon 2025-12-29 08:30"
    assert local(q["follow_up_at"], zone) == "Mon 2025-12-29 13:00"
    assert local(q["promise_at"], zone) == "Mon 2025-12-29 23:59"
    assert q["window_start"] == dt.date(2025, 12, 27)
    assert q["window_end"] == dt.date(2025, 12, 29)
    assert q["risk_codes"] == "holiday_in_window,after_cutoff,weekend_in_window"
    assert q["customer_message"] == (
        "Your parcel will arrive by Monday. "
        "Tomorrow (Christmas Day) and Friday, December 26 (Second Day of Christmas) are public "
        "holidays, so it may take the full time. "
        "The order came in after the 2:00\u202fPM cut-off, so it ships on the next working day. "
        "We will send you an update on Monday at 1:00\u202fPM if it has not arrived by then."
    )
    notes = {n["code"]: n for n in q["risk_notes"]}
    assert notes["after_cutoff"]["agent_text"] == (
        "Started Wednesday, December 24, 4:00\u202fPM, after the 2:00\u202fPM cut-off; "
        "the clock starts Saturday, December 27, 8:00\u202fAM."
    )
    # A shopper in Tokyo read "after the 10:00 PM cut-off" of Berlin's 14:00, and no zone.
    tokyo = {
        n["code"]: n
        for n in quote(deliveries, "2025-12-24 16:00", timezone="Asia/Tokyo")["risk_notes"]
    }
    assert tokyo["after_cutoff"]["customer_text"] == (
        "The order came in after the 2:00\u202fPM cut-off (Berlin time), so it ships on the next "
        "working day."
    )
    assert notes["holiday_in_window"]["agent_text"] == (
        "Public holidays before the promise: Thursday, December 25 (Christmas Day) and "
        "Friday, December 26 (Second Day of Christmas)."
    )
    assert notes["weekend_in_window"]["customer_text"] == (
        "This period includes days without deliveries (Sunday)."
    )


@pytest.mark.parametrize("now", ["2025-12-29 09:00", "2025-12-27 11:00"])  # a window; "by"
def test_a_parcel_on_its_way_is_named_once(deliveries, now: str) -> None:
    """Re-quoted, it was "Your parcel is on its way. Your parcel will most likely arrive..."."""
    q = quote(deliveries, "2025-12-24 16:00", now=now)
    assert q["elapsed_hours"] > 0
    assert q["customer_message"].startswith("Your parcel is on its way and will ")
    assert q["customer_message"].count("parcel") == 1


def test_a_delivery_window_said_in_the_shoppers_time_zone_and_language(deliveries) -> None:
    # The same parcel for a shopper in New York, in Russian: 18:30 in Berlin on Monday is 12:30
    # in New York, so the promised date is Monday there too, and it lasts until 23:59 their time.
    # Berlin's 14:00 cut-off is said as the business's, with its city: said as 14:00 alone,
    # it was a time of day in another zone than every other one in the message, and said in
    # their time (08:00) a shopper in Tokyo could not tell it was the shop's 22:00. The
    # follow-up, 13:00 in Berlin, is 7:00 AM for them: before a person's day, so "Monday
    # morning" (it was "Monday at 07:00").
    q = quote(deliveries, "2025-12-24 16:00", locale="ru", timezone="America/New_York")
    assert q["timezone"] == "America/New_York"
    assert local(q["promise_at"], "America/New_York") == "Mon 2025-12-29 23:59"  # their Monday
    assert q["window_end"] == dt.date(2025, 12, 29)
    assert q["customer_message"] == (
        "Ваш заказ будет доставлен в понедельник. Завтра и пятница, 26 декабря — праздничные "
        "дни, поэтому может потребоваться всё отведённое время. Заказ оформлен после 14:00 "
        "(по времени: Берлин), поэтому он будет отправлен в следующий рабочий день. Мы сообщим "
        "Вам новости в "
        "понедельник утром, если заказ к тому времени не будет доставлен."
    )


# A parcel ordered on Tuesday 12 May 2026 at 10:00, before the 14:00 cut-off, in Berlin, Paris
# and Amsterdam, each with its country's holidays: Thursday 14 May is Ascension Day in all three.
# Tuesday 10-20 (10 h), Wednesday 08-20 (22 h), Thursday closed, Friday 08-20 (34 h):
#   likely 12.5 h -> Wednesday 10:30 (tomorrow); 17.5 h -> Wednesday 15:30 -> follow-up 15:00;
#   promise 22.5 h -> Friday 08:30 -> the date: Friday.
ASCENSION = {
    "de": (
        "DE",
        "Europe/Berlin",
        "Sie erhalten Ihr Paket voraussichtlich morgen, spätestens am Freitag. "
        "Donnerstag, 14. Mai ist ein Feiertag (Christi Himmelfahrt), daher kann es bis zum "
        "zugesagten Termin dauern. "
        "Wir informieren Sie morgen um 15:00 Uhr über den Stand, falls Ihr Paket bis dahin nicht "
        "angekommen ist.",
        "Feiertage vor dem zugesagten Termin: Donnerstag, 14. Mai (Christi Himmelfahrt).",
        "Zusage (90%): Freitag, 15. Mai, 23:59; wahrscheinlich: Mittwoch, 13. Mai, 10:30; "
        "frühestens: Dienstag, 12. Mai, 12:30; Rückmeldung: Mittwoch, 13. Mai, 15:00.",
    ),
    "fr": (
        "FR",
        "Europe/Paris",
        "Votre colis devrait arriver demain, et au plus tard vendredi. "
        "Le jeudi 14 mai est un jour férié (Ascension), il faudra donc peut-être tout le délai "
        "annoncé. "
        "Nous vous donnerons des nouvelles demain à 15:00 si votre colis n'est pas arrivé "
        "d'ici là.",
        "Jours fériés avant l'échéance\u00a0: le jeudi 14 mai (Ascension).",
        "Échéance (90%)\u00a0: vendredi 15 mai, 23:59\u00a0; probable\u00a0: mercredi 13 mai, "
        "10:30\u00a0; au plus tôt\u00a0: mardi 12 mai, 12:30\u00a0; relance\u00a0: mercredi "
        "13 mai, 15:00.",
    ),
    "nl": (
        "NL",
        "Europe/Amsterdam",
        "Uw pakket wordt naar verwachting morgen bezorgd, uiterlijk op vrijdag. "
        "Donderdag 14 mei is een feestdag (Hemelvaartsdag), waardoor het tot de uiterste datum "
        "kan duren. "
        "We sturen u morgen om 15:00 uur een update als uw pakket dan nog niet is bezorgd.",
        "Feestdagen vóór de toezegging: donderdag 14 mei (Hemelvaartsdag).",
        "Toezegging (90%): vrijdag 15 mei, 23:59; waarschijnlijk: woensdag 13 mei, 10:30; "
        "vroegst: dinsdag 12 mei, 12:30; opvolging: woensdag 13 mei, 15:00.",
    ),
}


@pytest.mark.parametrize("locale", sorted(ASCENSION))
def test_a_parcel_across_ascension_day_in_german_french_and_dutch(locale: str) -> None:
    """A tester's Dutch shop found nl, de and fr answered in English with a locale_note: each
    reads in its language, weekdays and months too, with the holiday named as its country does."""
    country, zone, message, holiday, summary = ASCENSION[locale]
    raw = {**DELIVERIES, "timezone": zone, "calendar": {**DELIVERIES["calendar"]}}
    raw["calendar"]["holidays"] = country
    q = quote(handmade_model(raw), "2026-05-12 10:00", locale=locale)
    assert local(q["likely_at"], zone) == "Wed 2026-05-13 10:30"
    assert local(q["follow_up_at"], zone) == "Wed 2026-05-13 15:00"
    assert local(q["promise_at"], zone) == "Fri 2026-05-15 23:59"
    assert (q["locale"], q["locale_note"], q["text_direction"]) == (locale, "", "ltr")
    assert q["risk_codes"] == "holiday_in_window"
    assert q["customer_message"] == message
    assert message.endswith(q["follow_up_message"])
    assert q["risk_notes"][0]["customer_text"] in message
    assert q["risk_notes"][0]["agent_text"] == holiday
    assert q["agent_summary"].startswith(summary)
