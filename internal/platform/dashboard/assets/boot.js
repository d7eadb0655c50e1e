"use strict";(()=>{var u="LAST_3_MONTHS",d="LAST_6_MONTHS",l="LAST_30_DAYS";var m=`query DashboardViewer($after: String) {
  viewer { username name instanceAdmin defaultOrganization { name } }
  organizations(first: 100, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { name viewerRole } }
  }
}`;function p(t){return{after:t}}var g=50,M=`name username email role modelsSeat weaveAccess status lastActiveDisplay
  dateAdded activeDays invitePending teams { name } user { deactivated }`,f=`query DashboardUsers($org: String!, $first: Int, $after: String, $last: Int, $before: String,
    $filter: UserFilter, $orderBy: UserOrder) {
  organization(name: $org) {
    name
    viewerRole
    users(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      nodes { ${M} }
    }
  }
}`,A=`query DashboardTeams($org: String!, $after: String) {
  organization(name: $org) {
    teams(first: 100, after: $after) {
      pageInfo { hasNextPage endCursor }
      edges { node { name } }
    }
  }
}`;function y(t,e){return{org:t,after:e}}var R=["ADMIN","MEMBER","VIEWER"];function U(t){return t?["ACTIVE","NEVER_ACTIVE"]:["INVITE_PENDING","ACTIVE","INACTIVE","DEACTIVATED"]}var w={field:"NAME",direction:"ASC"},I={name:{field:"NAME",direction:"ASC"},"-name":{field:"NAME",direction:"DESC"},"last-active":{field:"LAST_ACTIVE",direction:"ASC"},"-last-active":{field:"LAST_ACTIVE",direction:"DESC"}};function S(t,e){let r=t.get("status")??"",n=t.get("role")??"";return{q:(t.get("q")??"").trim(),status:U(e).includes(r)?r:"",role:R.includes(n)?n:"",team:t.get("team")??"",sort:I[t.get("sort")??""]??w}}function v(t,e,r){let n={};e.q&&(n.search=e.q),e.status&&(n.status=[e.status]),e.role&&(n.role=[e.role]),e.team&&(n.team=e.team);let i={org:t,filter:n,orderBy:e.sort};return r.before?(i.last=g,i.before=r.before):(i.first=g,r.after&&(i.after=r.after)),i}var _=`query TotalActiveUsers($org: String!, $period: ActivityPeriod!) {
  organization(name: $org) { activity { totalActiveUsers(period: $period) { from to count } } }
}`,T=`query UsersActiveOverTime($org: String!, $period: ActivityPeriod!) {
  organization(name: $org) { activity { usersActiveOverTime(period: $period) { from to points { date activeUsers } } } }
}`,x=`query ActivityPanel($org: String!, $period: ActivityPeriod!) {
  organization(name: $org) {
    activity {
      activeUserCount(period: $period) { from to count }
      weeklyActiveUsers(period: $period) { from to points { date activeUsers } }
      mostActiveUsers(period: $period) { users { rank activeDays lastActiveAt user { username name } } }
    }
  }
}`;function s(t,e){return{org:t,period:e}}function P(t,e){return JSON.stringify({query:t,variables:e??{}})}function b(t){return fetch("/graphql",{method:"POST",credentials:"same-origin",headers:{"Content-Type":"application/json",Accept:"application/json"},body:t})}var N=/^\d{4}-\d{2}-\d{2}$/;function C(){return new Date().toISOString().slice(0,10)}function D(t){return t&&/^\d{1,3}$/.test(t)?t:""}function $(t,e){let r=t.get("numDays"),n=r!==null&&/^\d{1,5}$/.test(r)?parseInt(r,10):7;e&&n>7&&(n=7);let i=t.get("startDate")??"";return{actions:(t.get("actions")??"").split(",").map(o=>o.trim()).filter(o=>/^[a-z_]+:[a-z_]+$/.test(o)),actor:t.get("actor")??"",target:t.get("target")??"",entity:t.get("entity")??"",project:t.get("project")??"",codeMin:D(t.get("codeMin")),codeMax:D(t.get("codeMax")),startDate:N.test(i)?i:"",numDays:n,anonymize:t.get("anonymize")==="true",live:t.get("live")==="true"}}function F(t){let e={};return t.actions.length&&(e.actions=t.actions),t.actor&&(e.actor=t.actor),t.target&&(e.targetUser=t.target),t.entity&&(e.entity=t.entity),t.project&&(e.project=t.project),t.codeMin&&(e.responseCodeMin=parseInt(t.codeMin,10)),t.codeMax&&(e.responseCodeMax=parseInt(t.codeMax,10)),e}function L(t){return{...F(t),startDate:t.startDate||C(),numDays:t.numDays}}var h=`query AuditLogPage($org: String!, $first: Int!, $after: String, $filter: AuditEventFilter, $order: AuditEventOrder, $anonymize: Boolean) {
  organization(name: $org) {
    auditEvents(first: $first, after: $after, filter: $filter, order: $order, anonymize: $anonymize) {
      edges { cursor node { sequence json } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;function E(t,e,r,n,i){return{org:t,first:100,after:n,filter:e,order:i?"OLDEST_FIRST":"NEWEST_FIRST",anonymize:r}}function O(t,e){if(t.pathname==="/signin")return[];let r=[[m,p(null)]],n=a=>{r.push([f,v(a,S(t.searchParams,e),{})]),r.push([A,y(a,null)])};if(e){let a=t.pathname.match(/^\/account-settings\/([^/]+)\/members\/?$/);if(a){let c;try{c=decodeURIComponent(a[1])}catch{return r}r.push([x,s(c,l)]),n(c)}return r}let i=t.searchParams.get("org");if(!i||t.pathname!=="/org/dashboard"&&t.pathname!=="/org/dashboard/")return r;let o=t.searchParams.get("tab")??"";if(o==="activity")r.push([_,s(i,u)]),r.push([T,s(i,d)]);else if(o==="audit-log"){let a=$(t.searchParams,!1);r.push([h,E(i,L(a),a.anonymize,null,!1)])}else["alerts","integrity"].includes(o)||n(i);return r}if(!window.__agPreload){let t=document.querySelector('meta[name="auditgraph-deployment"]')?.getAttribute("content"),e=new Map;for(let[r,n]of O(new URL(location.href),t==="multi-tenant")){let i=P(r,n),o=b(i);o.catch(()=>{}),e.set(i,o)}window.__agPreload=e}})();
