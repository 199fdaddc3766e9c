package ftrackstate

import (
	"reflect"
	"testing"

	"github.com/ldapsync/ldapsync/engine"
)

// TestUserRecordKeepsEveryAppliedField: every field of engine.AppliedUser
// (TargetID excepted: it is the record's parent) survives the record
// beside the user. Filled by reflection, so a field added to AppliedUser
// and forgotten here fails this test instead of being dropped on every
// save (roles, custom attributes and the user type once were).
func TestUserRecordKeepsEveryAppliedField(t *testing.T) {
	var u engine.AppliedUser
	v := reflect.ValueOf(&u).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("x-" + v.Type().Field(i).Name)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Slice:
			f.Set(reflect.ValueOf([]string{"a-" + v.Type().Field(i).Name}))
		case reflect.Map:
			f.Set(reflect.ValueOf(map[string]string{"k": "v-" + v.Type().Field(i).Name}))
		default:
			t.Fatalf("AppliedUser.%s has kind %s, which this test does not fill", v.Type().Field(i).Name, f.Kind())
		}
	}
	u.TargetID = "parent-id"
	value, err := encodeUser("key", u)
	if err != nil {
		t.Fatal(err)
	}
	key, back, err := decodeUser("parent-id", value)
	if err != nil {
		t.Fatal(err)
	}
	if key != "key" || !reflect.DeepEqual(back, u) {
		t.Fatalf("record %s\ngave back %+v\nwant      %+v", value, back, u)
	}
}
