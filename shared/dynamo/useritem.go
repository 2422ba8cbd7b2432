package dynamo

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// userItem encodes a user as a full item.
func userItem(u dormancy.User) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{
		"userId":         str(u.UserID),
		"username":       str(u.Username),
		"usernameLower":  str(strings.ToLower(u.Username)),
		"status":         str(string(u.Status)),
		"groups":         groupsValue(u.Groups),
		"createdAt":      str(ts(u.CreatedAt)),
		"lastActivityAt": str(ts(u.LastActivity())),
		"listShard":      str(listShard(u.UserID, u.Status)),
		"listKey":        str(listKey(u.LastActivity(), u.UserID)),
		"version":        num(u.Version),
	}
	set := func(k, v string) {
		if v != "" {
			it[k] = str(v)
		}
	}
	set("creationSource", string(u.CreationSource))
	set("email", u.Email)
	set("auditHash", u.AuditHash)
	set("lastLoginAt", ts(u.LastLoginAt))
	set("reactivatedAt", ts(u.ReactivatedAt))
	set("importedAt", ts(u.ImportedAt))
	set("warnedAt", ts(u.WarnedAt))
	set("expiresAt", ts(u.ExpiresAt))
	set("expiryShard", expiryShard(u))
	set("sweepShard", sweepShard(u))
	set("lookupKey", lookupKey(u))
	for k, v := range deactivationAttrs(u.Deactivation) {
		it[k] = v
	}
	for k, v := range reactivationAttrs(u.Reactivation) {
		it[k] = v
	}
	return it
}

func groupsValue(groups []string) types.AttributeValue {
	l := make([]types.AttributeValue, 0, len(groups))
	for _, g := range groups {
		l = append(l, str(g))
	}
	return &types.AttributeValueMemberL{Value: l}
}

func deactivationAttrs(d *dormancy.Deactivation) map[string]types.AttributeValue {
	if d == nil {
		return nil
	}
	m := map[string]types.AttributeValue{
		"deactivatedAt":             str(ts(d.At)),
		"deactivatedBy":             str(d.By),
		"deactivationReason":        str(string(d.Reason)),
		"automaticDeactivation":     &types.AttributeValueMemberBOOL{Value: d.Automatic},
		"deactivationThresholdDays": num(int64(d.ThresholdDays)),
	}
	if d.Comment != "" {
		m["deactivationComment"] = str(d.Comment)
	}
	return m
}

func reactivationAttrs(r *dormancy.Reactivation) map[string]types.AttributeValue {
	if r == nil {
		return nil
	}
	m := map[string]types.AttributeValue{
		"reactivatedAt":     str(ts(r.At)),
		"reactivatedBy":     str(r.By),
		"approvalReference": str(r.ApprovalReference),
		"approvedBy":        str(r.ApprovedBy),
	}
	if r.Comment != "" {
		m["reactivationComment"] = str(r.Comment)
	}
	return m
}

// userFrom decodes a user item (whole, or as projected into an index).
func userFrom(it map[string]types.AttributeValue) (dormancy.User, error) {
	s := attrs(it).str
	n := attrs(it).num
	var err error
	t := func(k string) time.Time {
		v, e := parseTS(s(k))
		if e != nil && err == nil {
			err = fmt.Errorf("user %s: attribute %s: %w", s("userId"), k, e)
		}
		return v
	}
	u := dormancy.User{
		UserID: s("userId"), Username: s("username"), Status: dormancy.Status(s("status")), Email: s("email"),
		CreationSource: dormancy.CreationSource(s("creationSource")),
		CreatedAt:      t("createdAt"), LastLoginAt: t("lastLoginAt"), ReactivatedAt: t("reactivatedAt"),
		ImportedAt: t("importedAt"), WarnedAt: t("warnedAt"), ExpiresAt: t("expiresAt"), Version: n("version"),
		AuditHash: s("auditHash"),
	}
	if l, ok := it["groups"].(*types.AttributeValueMemberL); ok {
		for _, g := range l.Value {
			if gs, ok := g.(*types.AttributeValueMemberS); ok {
				u.Groups = append(u.Groups, gs.Value)
			}
		}
	}
	if s("deactivatedAt") != "" {
		auto, _ := it["automaticDeactivation"].(*types.AttributeValueMemberBOOL)
		u.Deactivation = &dormancy.Deactivation{
			At: t("deactivatedAt"), By: s("deactivatedBy"), Reason: dormancy.Reason(s("deactivationReason")),
			Automatic: auto != nil && auto.Value, ThresholdDays: int(n("deactivationThresholdDays")),
			Comment: s("deactivationComment"),
		}
	}
	if s("reactivatedBy") != "" {
		u.Reactivation = &dormancy.Reactivation{
			At: t("reactivatedAt"), By: s("reactivatedBy"), ApprovalReference: s("approvalReference"),
			ApprovedBy: s("approvedBy"), Comment: s("reactivationComment"),
		}
	}
	return u, err
}
