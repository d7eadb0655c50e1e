package storage

// MembersByActorSQL is the member lookup's query, for its plan test.
const MembersByActorSQL = membersByActorSQL
