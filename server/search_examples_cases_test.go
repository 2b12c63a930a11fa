package server_test

// exampleCases are searches over the official R4 examples; each comment
// says which example files give those ids. The five invalid examples
// (servertest.InvalidExamples) are not stored, so Observation/clinical-gender and
// MedicationRequest/medrx0301 never match.
var exampleCases = []exampleCase{
	// --- Patient (22 examples) ---
	// Only Patient/example has the family name Chalmers.
	{query: "/fhir/Patient?family=chalmers", want: []string{"example"}},
	// Given name Peter: example (Peter James, twice); f001's Pieter is not a prefix match.
	{query: "/fhir/Patient?name=peter", want: []string{"example"}},
	// f201's name has text "Roel" and given "Roelof Olaf".
	{query: "/fhir/Patient?name=roel", want: []string{"f201"}},
	// ch-example's name is only text: 张无忌.
	{query: "/fhir/Patient?name=%E5%BC%A0", want: []string{"ch-example"}},
	// f001's family is "van de Heuvel": a prefix of the whole string, not of a word.
	{query: "/fhir/Patient?family=van%20de", want: []string{"f001"}},
	{query: "/fhir/Patient?family=heuvel", want: nil},
	// Solo: infant-mom (Leia Solo) and the twins Jaina and Jacen Solo.
	{query: "/fhir/Patient?name:contains=olo", want: []string{"infant-mom", "infant-twin-1", "infant-twin-2"}},
	{query: "/fhir/Patient?gender=female", want: []string{"animal", "genetics-example1", "infant-mom", "infant-twin-1", "mom", "pat4", "proband"}},
	// Born 1974-12-25: example and ch-example.
	{query: "/fhir/Patient?birthdate=1974-12-25", want: []string{"ch-example", "example"}},
	// Born before 1950: f001 (1944), glossy and xcda (1932).
	{query: "/fhir/Patient?birthdate=lt1950", want: []string{"f001", "glossy", "xcda"}},
	{query: "/fhir/Patient?identifier=urn:oid:0.1.2.3.4.5.6.7%7C123456", want: []string{"pat2"}},
	// Identifier value 12345 in any system: example (urn:oid:1.2.36…) and xcda (urn:oid:2.16…).
	{query: "/fhir/Patient?identifier=12345", want: []string{"example", "xcda"}},
	// Social security numbers typed SS: genetics-example1 and mom (same number).
	{query: "/fhir/Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203%7CSS%7C444222222", want: []string{"genetics-example1", "mom"}},
	// managingOrganization Organization/1.
	{query: "/fhir/Patient?organization=Organization/1", want: []string{"ch-example", "dicom", "example", "pat1", "pat2", "pat3", "pat4"}},
	// pat3 has deceasedDateTime, pat4 deceasedBoolean true; five others false.
	{query: "/fhir/Patient?deceased=true", want: []string{"pat3", "pat4"}},
	// No active element: the infants, the newborn and the fetal record.
	{query: "/fhir/Patient?active:missing=true", want: []string{"infant-fetal", "infant-mom", "infant-twin-1", "infant-twin-2", "newborn"}},
	{query: "/fhir/Patient?address-city=amsterdam", want: []string{"f001", "f201"}},
	{query: "/fhir/Patient?address-postalcode=3999", want: []string{"example"}},
	{query: "/fhir/Patient?phone=0648352638", want: []string{"f001"}},
	// Communication language nl (f001) vs nl-NL (f201).
	{query: "/fhir/Patient?language=urn:ietf:bcp:47%7Cnl-NL", want: []string{"f201"}},
	// pat1 and pat2 link to each other.
	{query: "/fhir/Patient?link=Patient/pat2", want: []string{"pat1"}},
	{query: "/fhir/Patient?general-practitioner=Practitioner/example", want: []string{"glossy"}},

	// --- Observation (64 examples, 63 valid) ---
	{query: "/fhir/Observation?code=http://loinc.org%7C85354-9", want: []string{"blood-pressure", "blood-pressure-cancel", "blood-pressure-dar"}},
	// blood-pressure-cancel is cancelled.
	{query: "/fhir/Observation?code=85354-9&status=final", want: []string{"blood-pressure", "blood-pressure-dar"}},
	// :text starts-matches a display or the text: the 1, 5, 10 and 20
	// minute scores have a display starting "Apgar"; the 2 minute one
	// only "2 minute Apgar Score".
	{query: "/fhir/Observation?code:text=apgar", want: []string{"10minute-apgar-score", "1minute-apgar-score", "20minute-apgar-score", "5minute-apgar-score"}},
	{query: "/fhir/Observation?subject=Patient/f001", want: []string{"ekg", "f001", "f002", "f003", "f004", "f005", "unsat"}},
	// Practitioner/f005 performed f001's lab results, the EKG and the oyster test.
	{query: "/fhir/Observation?performer=Practitioner/f005", want: []string{"ekg", "f001", "f002", "f003", "f004", "f005", "unsat", "vp-oyster"}},
	{query: "/fhir/Observation?subject=Group/herd1", want: []string{"herd1"}},
	{query: "/fhir/Observation?encounter=Encounter/example", want: []string{"abdo-tender", "example", "map-sitting"}},
	{query: "/fhir/Observation?category=social-history", want: []string{"alcohol-type", "secondsmoke"}},
	// valueQuantity above 100: 820 (656), 185 [lb_av] (example), 122 (f204).
	{query: "/fhir/Observation?value-quantity=gt100", want: []string{"656", "example", "f204"}},
	// Below 1: the 1-minute Apgar (0), bmd (0.887), herd1 (0.2).
	{query: "/fhir/Observation?value-quantity=lt1", want: []string{"1minute-apgar-score", "bmd", "herd1"}},
	// 6.3 is [6.25, 6.35): f001's 6.3 mmol/L, not f003's 6.2 kPa.
	{query: "/fhir/Observation?value-quantity=6.3", want: []string{"f001"}},
	// 36.5 Cel is body-temperature; f202's 39 Cel is not.
	{query: "/fhir/Observation?value-quantity=36.5%7Chttp://unitsofmeasure.org%7CCel", want: []string{"body-temperature"}},
	// The ten vital signs taken on 1999-07-02.
	{query: "/fhir/Observation?date=1999-07-02", want: []string{"bmi", "bmi-using-related", "body-height", "body-length", "body-temperature", "head-circumference", "heart-rate", "mbp", "respiratory-rate", "vitals-panel"}},
	// Inside April 2013: f002–f004 (04-02..04-05), f005 (04-05), unsat
	// (04-02..04-05); f001's period has no end, so it is not inside.
	{query: "/fhir/Observation?date=2013-04", want: []string{"f002", "f003", "f004", "f005", "unsat"}},
	// From 2018: map-sitting, the 2018-03-11 infant results, and the two
	// open periods, which run past 2018-01-01: abdo-tender (from
	// 2018-04-02) and f001 (from 2013-04-02, no end).
	{query: "/fhir/Observation?date=ge2018-01-01", want: []string{"abdo-tender", "bgpanel", "bloodgroup", "f001", "map-sitting", "rhstatus", "trachcare"}},
	// Systolic 107 in blood-pressure and blood-pressure-dar; cancel has no values.
	{query: "/fhir/Observation?component-code-value-quantity=http://loinc.org%7C8480-6$gt100", want: []string{"blood-pressure", "blood-pressure-dar"}},
	// Diastolic 60 only in blood-pressure (dar's diastolic is absent).
	{query: "/fhir/Observation?component-code-value-quantity=http://loinc.org%7C8462-4$lt100", want: []string{"blood-pressure"}},
	// Blood group A: bloodgroup and rhstatus (the example reuses the code).
	{query: "/fhir/Observation?value-concept=http://snomed.info/sct%7C112144000", want: []string{"bloodgroup", "rhstatus"}},
	{query: "/fhir/Observation?has-member=Observation/bloodgroup", want: []string{"bgpanel"}},
	{query: "/fhir/Observation?derived-from=Observation/example-genetics-1", want: []string{"example-genetics-2", "example-genetics-3"}},
	{query: "/fhir/Observation?based-on:identifier=https://acme.org/identifiers%7C1234", want: []string{"blood-pressure"}},
	// Chains: f001 is "van de Heuvel"; f201 has identifier 123456789.
	{query: "/fhir/Observation?subject:Patient.family=van%20de%20heuvel", want: []string{"ekg", "f001", "f002", "f003", "f004", "f005", "unsat"}, needs: []string{"Patient"}},
	{query: "/fhir/Observation?patient.identifier=urn:oid:2.16.840.1.113883.2.4.6.3%7C123456789", want: []string{"f202", "f203", "f204", "f205", "f206"}, needs: []string{"Patient"}},
	// The vitals panel's members; :iterate adds blood-pressure's performer.
	{query: "/fhir/Observation?_id=vitals-panel&_include=Observation:has-member", want: []string{"vitals-panel"},
		included: []string{"Observation/respiratory-rate", "Observation/heart-rate", "Observation/blood-pressure", "Observation/body-temperature"}},
	{query: "/fhir/Observation?_id=vitals-panel&_include=Observation:has-member&_include:iterate=Observation:performer", want: []string{"vitals-panel"},
		included: []string{"Observation/respiratory-rate", "Observation/heart-rate", "Observation/blood-pressure", "Observation/body-temperature", "Practitioner/example"}, needs: []string{"Practitioner"}},

	// --- Encounter (10 examples) ---
	{query: "/fhir/Encounter?subject=Patient/f201", want: []string{"f201", "f202", "f203"}},
	{query: "/fhir/Encounter?class=AMB", want: []string{"f001", "f002", "f003", "f201", "f202", "xcda"}},
	{query: "/fhir/Encounter?status=in-progress", want: []string{"emerg", "example"}},
	{query: "/fhir/Encounter?participant=Practitioner/f201", want: []string{"f201", "f202", "f203"}},
	{query: "/fhir/Encounter?service-provider=Organization/f001", want: []string{"f001", "f002", "f003"}},
	{query: "/fhir/Encounter?type=http://snomed.info/sct%7C270427003", want: []string{"f001", "f002", "f003"}},
	// f203's period is 2013-03-11..2013-03-20; the others have none or later ones.
	{query: "/fhir/Encounter?date=2013-03", want: []string{"f203"}},
	// home (2015-01-17) and emerg (open from 2017-02-01).
	{query: "/fhir/Encounter?date=ge2015", want: []string{"emerg", "home"}},
	// f203 is partOf itself.
	{query: "/fhir/Encounter?part-of=Encounter/f203", want: []string{"f203"}},
	// Patient f201's name text is Roel; Group has no name parameter.
	{query: "/fhir/Encounter?subject.name=roel", want: []string{"f201", "f202", "f203"}, needs: []string{"Patient"}},
	// Practitioner/f002 (Voigt) took part in Encounter/f001.
	{query: "/fhir/Encounter?participant:Practitioner.family=voigt", want: []string{"f001"}, needs: []string{"Practitioner"}},
	// f203 is its own partOf: it is a match, so not included again.
	{query: "/fhir/Encounter?_id=f203&_include=Encounter:part-of", want: []string{"f203"}},
	{query: "/fhir/Encounter?date:missing=false&_sort=date", want: []string{"f203", "home", "emerg"}, ordered: true},

	// --- Condition (12 examples) ---
	{query: "/fhir/Condition?clinical-status=resolved", want: []string{"f201", "f202"}},
	{query: "/fhir/Condition?clinical-status=active", want: []string{"example", "example2", "f001", "f002", "f003", "f203", "f205", "family-history", "stroke"}},
	{query: "/fhir/Condition?verification-status=differential", want: []string{"f204", "f205"}},
	// Onset 2013-03-08 (f203) and 2013-03-11 (f204); f202's onset is an Age.
	{query: "/fhir/Condition?onset-date=2013-03", want: []string{"f203", "f204"}},
	// Onset before June 2011: f002 (2011-05-05), stroke (2010-07-18).
	{query: "/fhir/Condition?onset-date=lt2011-06", want: []string{"f002", "stroke"}},
	{query: "/fhir/Condition?recorded-date=2013-03-11", want: []string{"f203", "f204"}},
	// onsetAge 52 a.
	{query: "/fhir/Condition?onset-age=52%7Chttp://unitsofmeasure.org%7Ca", want: []string{"f202"}},
	// Severity "moderate to severe" (24484000).
	{query: "/fhir/Condition?severity=http://snomed.info/sct%7C24484000", want: []string{"example", "f002", "f202", "f204"}},
	{query: "/fhir/Condition?category=problem-list-item", want: []string{"example2", "f201", "f203", "f204", "family-history"}},
	{query: "/fhir/Condition?asserter=Practitioner/f201", want: []string{"f201", "f203", "f204", "f205"}},
	{query: "/fhir/Condition?encounter=Encounter/f203", want: []string{"f203", "f204"}},
	// Two links: f201's managing organization is Artis University Medical Center.
	{query: "/fhir/Condition?subject:Patient.organization.name=artis", want: []string{"f201", "f202", "f203", "f204", "f205"}, needs: []string{"Patient", "Organization"}},
	// Four of f201's conditions name Practitioner/f201 as asserter: included once.
	{query: "/fhir/Condition?subject=Patient/f201&_include=Condition:asserter", want: []string{"f201", "f202", "f203", "f204", "f205"}, included: []string{"Practitioner/f201"}, needs: []string{"Practitioner"}},
	// Recorded dates, newest first, ties by id: f201/f205 2013-04-04,
	// f203/f204 2013-03-11, f202 2012-12-01, f002 2012-06-03, f003
	// 2012-02-20, f001 2011-10-05.
	{query: "/fhir/Condition?recorded-date:missing=false&_sort=-recorded-date,_id", want: []string{"f201", "f205", "f203", "f204", "f202", "f002", "f003", "f001"}, ordered: true},

	// --- Practitioner (14 examples) ---
	// Prefix Dr (example) and Dr. (f201, f202).
	{query: "/fhir/Practitioner?name=dr", want: []string{"example", "f201", "f202"}},
	// "van den broek" (f001) and "van den Berk" (f006); f203's "Juri van Gelder" is a text, not a family.
	{query: "/fhir/Practitioner?family=van%20den", want: []string{"f001", "f006"}},
	{query: "/fhir/Practitioner?address-city=den%20burg", want: []string{"f001", "f002", "f006", "f007"}},
	// f004 and f005 share the UZI number 118265112.
	{query: "/fhir/Practitioner?identifier=urn:oid:2.16.528.1.1007.3.1%7C118265112", want: []string{"f004", "f005"}},
	{query: "/fhir/Practitioner?gender=female", want: []string{"f005", "f007", "f204"}},
	{query: "/fhir/Practitioner?phone=%2B31715269111", want: []string{"f201", "f202", "f203"}},
	{query: "/fhir/Practitioner?email=p.voigt@bmc.nl", want: []string{"f002"}},
	// f005 performed the glucose observations (f001, unsat).
	{query: "/fhir/Practitioner?_has:Observation:performer:code=http://loinc.org%7C15074-8", want: []string{"f005"}, needs: []string{"Observation"}},

	// --- Organization (13 examples) ---
	{query: "/fhir/Organization?name=burgers", want: []string{"f001", "f002", "f003"}},
	// An escaped comma: "Burgers UMC Ear,Nose,Throat unit".
	{query: "/fhir/Organization?name=Burgers%20UMC%20Ear%5C,Nose", want: []string{"f003"}},
	// name covers alias: "HL7 International" (hl7) and "HL7 Payer network" (hl7pay).
	{query: "/fhir/Organization?name=hl7", want: []string{"hl7", "hl7pay"}},
	{query: "/fhir/Organization?partof=Organization/f001", want: []string{"f002", "f003"}},
	{query: "/fhir/Organization?type=http://terminology.hl7.org/CodeSystem/organization-type%7Cprov", want: []string{"f001", "f201", "f203"}},
	{query: "/fhir/Organization?active=true", want: []string{"f002", "f003", "f201", "f203", "mmanu"}},
	{query: "/fhir/Organization?_id=f001&_revinclude=Organization:partof", want: []string{"f001"}, included: []string{"Organization/f002", "Organization/f003"}},
	// Female patients with a managing organization reference:
	// genetics-example1 and mom (hl7), pat4 (1); animal's has a display only.
	{query: "/fhir/Organization?_has:Patient:organization:gender=female", want: []string{"1", "hl7"}, needs: []string{"Patient"}},

	// --- MedicationRequest (40 examples, 39 valid, all for pat1) ---
	{query: "/fhir/MedicationRequest?status=on-hold", want: []string{"medrx0325", "medrx0326", "medrx0329", "medrx0334", "medrx0335"}},
	{query: "/fhir/MedicationRequest?code=http://www.nlm.nih.gov/research/umls/rxnorm%7C884308", want: []string{"medrx0325", "medrx0334", "medrx0335"}},
	{query: "/fhir/MedicationRequest?medication=Medication/med0316", want: []string{"medrx002"}},
	{query: "/fhir/MedicationRequest?encounter=Encounter/f002", want: []string{"medrx0330"}},
	{query: "/fhir/MedicationRequest?authoredon=2015-03-01", want: []string{"medrx002"}},
	// inpatient: medrx0333 (medrx0301, also inpatient, is invalid).
	{query: "/fhir/MedicationRequest?category=inpatient", want: []string{"medrx0333"}},
	// Active orders without an encounter.
	{query: "/fhir/MedicationRequest?status=active&intent=order&encounter:missing=true", want: []string{"medrx0306", "medrx0312", "medrx0321", "medrx0327", "medrx0328", "medrx0331"}},
	{query: "/fhir/MedicationRequest?_id=medrx002&_include=MedicationRequest:medication", want: []string{"medrx002"}, included: []string{"Medication/med0316"}, needs: []string{"Medication"}},
	{query: "/fhir/Patient?_has:MedicationRequest:subject:status=on-hold", want: []string{"pat1"}, needs: []string{"MedicationRequest"}},

	// --- DiagnosticReport (6 examples) ---
	{query: "/fhir/DiagnosticReport?category=RAD", want: []string{"f201", "ultrasound"}},
	{query: "/fhir/DiagnosticReport?performer=Practitioner/example", want: []string{"pap", "ultrasound"}},
	// 2012-12-01T12:00:00+01:00 is 11:00Z on the same day.
	{query: "/fhir/DiagnosticReport?date=2012-12-01", want: []string{"f201", "ultrasound"}},
	{query: "/fhir/DiagnosticReport?issued=ge2016", want: []string{"example-pgx", "gingival-mass"}},
	{query: "/fhir/DiagnosticReport?conclusion=http://snomed.info/sct%7C188340000", want: []string{"f201"}},
	{query: "/fhir/DiagnosticReport?_id=102&_include=DiagnosticReport:result", want: []string{"102"}, included: []string{"Observation/bmd"}, needs: []string{"Observation"}},

	// --- Procedure (16 examples) ---
	{query: "/fhir/Procedure?subject=Patient/f001", want: []string{"f001", "f002", "f003", "f004"}},
	// March 2013: f002 (03-08), f004 (03-22), f003 (03-24).
	{query: "/fhir/Procedure?date=2013-03", want: []string{"f002", "f003", "f004"}},
	{query: "/fhir/Procedure?status=not-done", want: []string{"ambulation"}},
	{query: "/fhir/Procedure?location=Location/1", want: []string{"ambulation", "colon-biopsy", "colonoscopy"}},
	{query: "/fhir/Procedure?performer=Practitioner/example", want: []string{"HCBS", "biopsy", "colon-biopsy", "colonoscopy", "example", "example-implant"}},
	{query: "/fhir/Procedure?reason-reference=Observation/blood-pressure", want: []string{"ambulation"}},
	{query: "/fhir/Procedure?encounter=Encounter/f003", want: []string{"f003", "f004"}},
	// Performers in Amsterdam: f003 (Procedure f002) and f005 (Procedure
	// f004); f001 (Procedure f003) works in Den Burg.
	{query: "/fhir/Procedure?performer:Practitioner.address-city=amsterdam", want: []string{"f002", "f004"}, needs: []string{"Practitioner"}},

	// --- Immunization (5 examples) ---
	{query: "/fhir/Immunization?vaccine-code=urn:oid:1.2.36.1.2001.1005.17%7CFLUVAX", want: []string{"example"}},
	{query: "/fhir/Immunization?status=not-done", want: []string{"notGiven"}},
	{query: "/fhir/Immunization?lot-number=AAJN11K", want: []string{"example", "subpotent"}},
	{query: "/fhir/Immunization?date=2013-01-10", want: []string{"example", "notGiven"}},
	// "historical" has an occurrenceString, no date.
	{query: "/fhir/Immunization?date=ge2015", want: []string{"protocol", "subpotent"}},
	{query: "/fhir/Immunization?manufacturer=Organization/hl7", want: []string{"example", "protocol", "subpotent"}},
	// Every reference parameter of Immunization: patient, location,
	// manufacturer, performer; Immunization.encounter has no parameter.
	{query: "/fhir/Immunization?_id=example&_include=Immunization:*", want: []string{"example"},
		included: []string{"Patient/example", "Location/1", "Organization/hl7", "Practitioner/example"}, needs: []string{"Patient", "Location", "Organization", "Practitioner"}},
	// Newest first, ties by id: protocol 2018, subpotent 2015, example and notGiven 2013-01-10.
	{query: "/fhir/Immunization?date:missing=false&_sort=-date,_id", want: []string{"protocol", "subpotent", "example", "notGiven"}, ordered: true},

	// --- AllergyIntolerance (6 examples) ---
	{query: "/fhir/AllergyIntolerance?patient=Patient/mom", want: []string{"nka", "nkda"}},
	{query: "/fhir/AllergyIntolerance?criticality=high", want: []string{"example", "medication"}},
	{query: "/fhir/AllergyIntolerance?category=food", want: []string{"example", "fishallergy"}},
	{query: "/fhir/AllergyIntolerance?verification-status=unconfirmed", want: []string{"medication"}},
	// Reaction manifestation and severity of Patient/example's cashew allergy.
	{query: "/fhir/AllergyIntolerance?manifestation=http://snomed.info/sct%7C39579001", want: []string{"example"}},
	{query: "/fhir/AllergyIntolerance?severity=moderate", want: []string{"example"}},
	// Recorded 2015-08-06 (fishallergy at 15:37-06:00, still that day in UTC).
	{query: "/fhir/AllergyIntolerance?date=2015-08-06", want: []string{"fishallergy", "nka", "nkda", "nkla"}},
	{query: "/fhir/Patient?_has:AllergyIntolerance:patient:criticality=high", want: []string{"example"}, needs: []string{"AllergyIntolerance"}},

	// --- Location (6 examples) ---
	// Names "South Wing, second floor" (1) and "South Wing Neuro OR 1" (2).
	{query: "/fhir/Location?name=south", want: []string{"1", "2"}},
	// name covers alias: 2 is also "Main Wing OR 2".
	{query: "/fhir/Location?name=main", want: []string{"2"}},
	{query: "/fhir/Location?partof=Location/1", want: []string{"2"}},
	{query: "/fhir/Location?organization=Organization/f001", want: []string{"1", "2", "amb", "ph"}},
	{query: "/fhir/Location?type=http://terminology.hl7.org/CodeSystem/v3-RoleCode%7CAMB", want: []string{"amb"}},
	{query: "/fhir/Location?address-city=ann%20arbor", want: []string{"hl7"}},

	// --- Device (2 examples) ---
	{query: "/fhir/Device?identifier=http://goodcare.org/devices/id%7C345675", want: []string{"example"}},
	{query: "/fhir/Device?status=active", want: []string{"f001"}},

	// --- CarePlan (11 examples) ---
	{query: "/fhir/CarePlan?subject=Patient/f201", want: []string{"f201", "f202", "f203"}},
	{query: "/fhir/CarePlan?status=completed", want: []string{"f001", "f002", "f003", "f203"}},
	// Inside March 2013: f003 (03-08, half an hour), f201 (03-11..03-13).
	{query: "/fhir/CarePlan?date=2013-03", want: []string{"f003", "f201"}},
	{query: "/fhir/CarePlan?condition=Condition/f201", want: []string{"f001", "f002", "f003"}},
	{query: "/fhir/CarePlan?activity-code=http://snomed.info/sct%7C172960003", want: []string{"f003"}},
	{query: "/fhir/CarePlan?category:text=weight", want: []string{"example"}},
	{query: "/fhir/CarePlan?_id=f202&_include=CarePlan:condition", want: []string{"f202"}, included: []string{"Condition/f202"}, needs: []string{"Condition"}},

	// --- Appointment (3 examples) ---
	{query: "/fhir/Appointment?actor=Practitioner/f202", want: []string{"2docs"}},
	{query: "/fhir/Appointment?patient=Patient/example", want: []string{"2docs", "example", "examplereq"}},
	{query: "/fhir/Appointment?date=2013-12-10", want: []string{"example"}},
	{query: "/fhir/Appointment?appointment-type=WALKIN", want: []string{"2docs", "examplereq"}},
	{query: "/fhir/Appointment?part-status=needs-action", want: []string{"examplereq"}},

	// --- RiskAssessment (number) and canonical resources (uri) ---
	{query: "/fhir/RiskAssessment?probability=0.000368", want: []string{"genetic", "riskexample"}},
	{query: "/fhir/RiskAssessment?probability=lt0.0003", want: []string{"genetic"}},
	{query: "/fhir/RiskAssessment?probability=gt0.01", want: []string{"cardiac"}},
	{query: "/fhir/PlanDefinition?url:below=http://hl7.org/fhir/ig/opioid-cds", want: []string{"opioidcds-04", "opioidcds-05", "opioidcds-07", "opioidcds-08", "opioidcds-10", "opioidcds-11"}},
	// Two versions share the URL.
	{query: "/fhir/PlanDefinition?url=http://example.org/PlanDefinition/zika-virus-intervention", want: []string{"zika-virus-intervention", "zika-virus-intervention-initial"}},
	{query: "/fhir/PlanDefinition?url=http://example.org/PlanDefinition/zika-virus-intervention&version=2.0.0", want: []string{"zika-virus-intervention"}},
	{query: "/fhir/TestScript?url:above=http://hl7.org/fhir/TestScript/testscript-example-search/x", want: []string{"testscript-example-search"}},

	// --- Reverse chains, compartments, system searches ---
	{query: "/fhir/Patient?_has:Observation:patient:code=http://loinc.org%7C85354-9", want: []string{"example"}, needs: []string{"Observation"}},
	{query: "/fhir/Patient?_has:Condition:subject:clinical-status=resolved", want: []string{"f201"}, needs: []string{"Condition"}},
	{query: "/fhir/Patient?_id=f201&_revinclude=Encounter:subject", want: []string{"f201"}, included: []string{"Encounter/f201", "Encounter/f202", "Encounter/f203"}, needs: []string{"Encounter"}},
	// Asserter Practitioner/f201; Patient/f201 (same id) is not this compartment.
	{query: "/fhir/Practitioner/f201/Condition", want: []string{"f201", "f203", "f204", "f205"}},
	{query: "/fhir/Practitioner/f201/Encounter", want: []string{"f201", "f202", "f203"}},
	{query: "/fhir/Encounter/f203/Condition", want: []string{"f203", "f204"}},
	// Patient/example is patient of four and asserter of one of them.
	{query: "/fhir/Patient/example/AllergyIntolerance", want: []string{"example", "fishallergy", "medication", "nkla"}},
	{query: "/fhir/Patient/pat1/Patient", want: []string{"pat1", "pat2"}},
	{query: "/fhir/Device/f001/MedicationAdministration", want: []string{"medadmin0307", "medadmin0309"}},
	// Every example with the id f201 (file names are Type-id.json).
	{query: "/fhir?_id=f201", want: []string{"CarePlan/f201", "Condition/f201", "DiagnosticReport/f201", "Encounter/f201", "List/f201",
		"Organization/f201", "Patient/f201", "Practitioner/f201", "Procedure/f201", "Questionnaire/f201", "QuestionnaireResponse/f201", "Substance/f201"}},
	{query: "/fhir?_type=Patient,Practitioner&gender=female", want: []string{"Patient/animal", "Patient/genetics-example1", "Patient/infant-mom",
		"Patient/infant-twin-1", "Patient/mom", "Patient/pat4", "Patient/proband", "Practitioner/f005", "Practitioner/f007", "Practitioner/f204"}},
	{query: "/fhir?_type=Condition,Procedure&subject=Patient/f001", want: []string{"Condition/f001", "Condition/f002", "Condition/f003",
		"Procedure/f001", "Procedure/f002", "Procedure/f003", "Procedure/f004"}},
}
