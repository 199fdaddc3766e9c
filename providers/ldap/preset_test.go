package ldap

import (
	"encoding/hex"
	"testing"
	"time"
)

func TestADDisabled(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	// FILETIME for a time: (unix seconds + 11644473600) * 1e7.
	ft := func(t time.Time) string {
		return itoa((t.Unix() + 11644473600) * 10_000_000)
	}
	ad := Presets["active_directory"]
	cases := []struct {
		name   string
		attrs  map[string][]string
		want   bool
		reason string
	}{
		{"normal account 512", map[string][]string{"userAccountControl": {"512"}}, false, ""},
		{"disabled 514", map[string][]string{"userAccountControl": {"514"}}, true, "userAccountControl has ACCOUNTDISABLE (0x2)"},
		{"combined 66050 = 0x10202", map[string][]string{"useraccountcontrol": {"66050"}}, true, "userAccountControl has ACCOUNTDISABLE (0x2)"},
		{"dont-expire-password 66048", map[string][]string{"userAccountControl": {"66048"}}, false, ""},
		{"lockout bit only 0x210", map[string][]string{"userAccountControl": {"528"}}, false, ""},
		{"garbage uac", map[string][]string{"userAccountControl": {"x"}}, false, ""},
		{"never expires 0", map[string][]string{"userAccountControl": {"512"}, "accountExpires": {"0"}}, false, ""},
		{"never expires max", map[string][]string{"userAccountControl": {"512"}, "accountExpires": {"9223372036854775807"}}, false, ""},
		{"expired yesterday", map[string][]string{"userAccountControl": {"512"}, "accountExpires": {ft(now.Add(-24 * time.Hour))}}, true, "accountExpires is in the past (2025-05-31T12:00:00Z)"},
		{"expires tomorrow", map[string][]string{"userAccountControl": {"512"}, "accountExpires": {ft(now.Add(24 * time.Hour))}}, false, ""},
		{"nothing", nil, false, ""},
	}
	for _, tc := range cases {
		got, reason := ad.Disabled(tc.attrs, now)
		if got != tc.want || reason != tc.reason {
			t.Errorf("%s: Disabled = %v %q, want %v %q", tc.name, got, reason, tc.want, tc.reason)
		}
	}
}

func itoa(n int64) string {
	b := []byte{}
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func TestOtherPresetsDisabled(t *testing.T) {
	now := time.Now()
	cases := []struct {
		preset string
		attrs  map[string][]string
		want   bool
	}{
		{"openldap", map[string][]string{"pwdAccountLockedTime": {"000001010000Z"}}, true},
		{"openldap", map[string][]string{"pwdaccountlockedtime": {"20250101000000Z"}}, true},
		{"openldap", map[string][]string{}, false},
		{"389ds", map[string][]string{"nsAccountLock": {"TRUE"}}, true},
		{"389ds", map[string][]string{"nsaccountlock": {"true"}}, true},
		{"389ds", map[string][]string{"nsAccountLock": {"false"}}, false},
		{"freeipa", map[string][]string{"nsAccountLock": {"True"}}, true},
		{"freeipa", nil, false},
	}
	for _, tc := range cases {
		if got, _ := Presets[tc.preset].Disabled(tc.attrs, now); got != tc.want {
			t.Errorf("%s %v: Disabled = %v, want %v", tc.preset, tc.attrs, got, tc.want)
		}
	}
}

func TestFormatGUIDAndSID(t *testing.T) {
	wire, _ := hex.DecodeString("b7e88c871327a941a7655e3905ab5ef2")
	if got, ok := FormatGUID(wire); !ok || got != "878ce8b7-2713-41a9-a765-5e3905ab5ef2" {
		t.Errorf("FormatGUID = %q %v", got, ok)
	}
	if _, ok := FormatGUID(wire[:15]); ok {
		t.Error("FormatGUID accepted 15 bytes")
	}
	if got := textValue("objectGUID", wire); got != "878ce8b7-2713-41a9-a765-5e3905ab5ef2" {
		t.Errorf("textValue(objectGUID) = %q", got)
	}
	// S-1-5-21-1004336348-1177238915-682003330-512
	sid, _ := hex.DecodeString("010500000000000515000000dcf4dc3b833d2b46828ba62800020000")
	if got, ok := FormatSID(sid); !ok || got != "S-1-5-21-1004336348-1177238915-682003330-512" {
		t.Errorf("FormatSID = %q %v", got, ok)
	}
	if got := textValue("photo", []byte{0xff, 0x00}); got != "ff00" {
		t.Errorf("textValue(binary) = %q", got)
	}
	if got := textValue("sn", []byte{'M', 0xfc, 'l'}); got != "M\xfcl" {
		t.Errorf("textValue(invalid UTF-8 text) = %q, want the raw bytes", got)
	}
	if got := textValue("sn", []byte("Müller")); got != "Müller" {
		t.Errorf("textValue(utf8) = %q", got)
	}
}

func TestFileTime(t *testing.T) {
	if got, ok := FileTime("116444736000000000"); !ok || !got.Equal(time.Unix(0, 0)) {
		t.Errorf("FileTime(epoch) = %v %v", got, ok)
	}
	for _, never := range []string{"0", "9223372036854775807", "", "abc"} {
		if _, ok := FileTime(never); ok {
			t.Errorf("FileTime(%q) ok", never)
		}
	}
}

func TestPresetTable(t *testing.T) {
	want := map[string][2]string{
		"openldap":         {"(objectClass=inetOrgPerson)", "entryUUID"},
		"active_directory": {"(&(objectCategory=person)(objectClass=user))", "objectGUID"},
		"389ds":            {"(objectClass=inetOrgPerson)", "nsUniqueId"},
		"freeipa":          {"(objectClass=posixAccount)", "ipaUniqueID"},
	}
	if names := PresetNames(); len(names) != len(want) || names[0] != "389ds" {
		t.Errorf("PresetNames() = %v", names)
	}
	for name, w := range want {
		p, ok := PresetFor(name)
		if !ok || p.Filter != w[0] || p.IDAttribute != w[1] || len(p.DisabledAttributes) == 0 {
			t.Errorf("PresetFor(%q) = %+v", name, p)
		}
	}
	if p, ok := PresetFor(""); !ok || p.Name != "openldap" {
		t.Errorf("PresetFor(\"\") = %+v", p)
	}
	if _, ok := PresetFor("novell"); ok {
		t.Error("PresetFor(novell) ok")
	}
}
