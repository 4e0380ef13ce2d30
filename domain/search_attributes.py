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
# AfterHoursEscalation (seed 004): the night's cases by status and contract partner. The
# dev server allows 10 Keyword attributes in all (see below): the partner is a one-element
# KeywordList, which `ContractPartner = 'fpm'` matches the same way.
AFTER_HOURS_STATUS = SearchAttributeKey.for_keyword("AfterHoursStatus")
CONTRACT_PARTNER = SearchAttributeKey.for_keyword_list("ContractPartner")
# Outage (seed 004). The dev server allows 10 Keyword attributes per namespace (all taken by
# now) and 3 Text: `OutageStatus = 'confirmed'` matches the word the same way.
OUTAGE_STATUS = SearchAttributeKey.for_text("OutageStatus")

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
    AFTER_HOURS_STATUS,
    CONTRACT_PARTNER,
    OUTAGE_STATUS,
)
# ProvisioningIntake (seed 000): where each Halo provisioning ticket is, and whose it is.
# The dev server (SQLite visibility) allows 10 Keyword attributes in all, so only the status
# is a Keyword; subcategory and analyst are one-element KeywordLists (`ProvisioningAnalyst =
# 'alex'` matches the same way) and the Halo ticket id is an Int.
PROVISIONING_STATUS = SearchAttributeKey.for_keyword("ProvisioningStatus")
PROVISIONING_SUBCATEGORY = SearchAttributeKey.for_keyword_list("ProvisioningSubcategory")
PROVISIONING_ANALYST = SearchAttributeKey.for_keyword_list("ProvisioningAnalyst")
HALO_TICKET_ID = SearchAttributeKey.for_int("HaloTicketId")
ALL = (*ALL, PROVISIONING_STATUS, PROVISIONING_SUBCATEGORY, PROVISIONING_ANALYST, HALO_TICKET_ID)
