"""The contract's custom search attributes: how operators find a ticket in the Web UI."""

from temporalio.common import SearchAttributeKey

REFRESH_STATUS = SearchAttributeKey.for_keyword("RefreshStatus")
SUPPORT_TEAM = SearchAttributeKey.for_keyword("SupportTeam")
REFRESH_STYLE = SearchAttributeKey.for_keyword("RefreshStyle")
BATCH_ID = SearchAttributeKey.for_keyword("BatchId")
CONFIG_ID = SearchAttributeKey.for_keyword("ConfigId")
EXISTING_SERIAL = SearchAttributeKey.for_keyword("ExistingSerial")
REPLACEMENT_SERIAL = SearchAttributeKey.for_keyword("ReplacementSerial")
DAY1 = SearchAttributeKey.for_datetime("Day1")
# SlaClock (seed 002): what is about to breach.
SLA_STATE = SearchAttributeKey.for_keyword("SlaState")
SLA_DUE_AT = SearchAttributeKey.for_datetime("SlaDueAt")
# Outage (seed 004). Only one: the dev server allows 10 Keyword attributes per namespace, and
# the triage console reads its projection instead.
OUTAGE_STATUS = SearchAttributeKey.for_keyword("OutageStatus")

ALL = (
    REFRESH_STATUS,
    SUPPORT_TEAM,
    REFRESH_STYLE,
    BATCH_ID,
    CONFIG_ID,
    EXISTING_SERIAL,
    REPLACEMENT_SERIAL,
    DAY1,
    SLA_STATE,
    SLA_DUE_AT,
    OUTAGE_STATUS,
)
