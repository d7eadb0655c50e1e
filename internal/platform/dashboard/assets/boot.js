"use strict";(()=>{var d="LAST_3_MONTHS",l="LAST_6_MONTHS",u="LAST_30_DAYS";var f=`query DashboardViewer($after: String) {
  viewer { username name instanceAdmin defaultOrganization { name } }
  organizations(first: 100, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { name viewerRole } }
  }
}`;function m(e){return{after:e}}var g=50,h=`name username email role modelsSeat weaveAccess status lastActiveDisplay
  dateAdded activeDays invitePending teams { name } user { deactivated }`,p=`query DashboardUsers($org: String!, $first: Int, $after: String, $last: Int, $before: String,
    $filter: UserFilter, $orderBy: UserOrder) {
  organization(name: $org) {
    name
    viewerRole
    users(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      nodes { ${h} }
    }
  }
}`,A=`query DashboardTeams($org: String!, $after: String) {
  organization(name: $org) {
    teams(first: 100, after: $after) {
      pageInfo { hasNextPage endCursor }
      edges { node { name } }
    }
  }
}`;function v(e,t){return{org:e,after:t}}var $=["ADMIN","MEMBER","VIEWER"];function x(e){return e?["ACTIVE","NEVER_ACTIVE"]:["INVITE_PENDING","ACTIVE","INACTIVE","DEACTIVATED"]}var E={field:"NAME",direction:"ASC"},C={name:{field:"NAME",direction:"ASC"},"-name":{field:"NAME",direction:"DESC"},"last-active":{field:"LAST_ACTIVE",direction:"ASC"},"-last-active":{field:"LAST_ACTIVE",direction:"DESC"}};function S(e,t){let r=e.get("status")??"",o=e.get("role")??"";return{q:(e.get("q")??"").trim(),status:x(t).includes(r)?r:"",role:$.includes(o)?o:"",team:e.get("team")??"",sort:C[e.get("sort")??""]??E}}function y(e,t,r){let o={};t.q&&(o.search=t.q),t.status&&(o.status=[t.status]),t.role&&(o.role=[t.role]),t.team&&(o.team=t.team);let i={org:e,filter:o,orderBy:t.sort};return r.before?(i.last=g,i.before=r.before):(i.first=g,r.after&&(i.after=r.after)),i}var T=`query TotalActiveUsers($org: String!, $period: ActivityPeriod!) {
  organization(name: $org) { activity { totalActiveUsers(period: $period) { from to count } } }
}`,_=`query UsersActiveOverTime($org: String!, $period: ActivityPeriod!) {
  organization(name: $org) { activity { usersActiveOverTime(period: $period) { from to points { date activeUsers } } } }
}`,P=`query ActivityPanel($org: String!, $period: ActivityPeriod!) {
  organization(name: $org) {
    activity {
      activeUserCount(period: $period) { from to count }
      weeklyActiveUsers(period: $period) { from to points { date activeUsers } }
      mostActiveUsers(period: $period) { users { rank activeDays lastActiveAt user { username name } } }
    }
  }
}`;function n(e,t){return{org:e,period:t}}function b(e,t){return JSON.stringify({query:e,variables:t??{}})}function L(e){return fetch("/graphql",{method:"POST",credentials:"same-origin",headers:{"Content-Type":"application/json",Accept:"application/json"},body:e})}function N(e,t){if(e.pathname==="/signin")return[];let r=[[f,m(null)]],o=a=>{r.push([p,y(a,S(e.searchParams,t),{})]),r.push([A,v(a,null)])};if(t){let a=e.pathname.match(/^\/account-settings\/([^/]+)\/members\/?$/);if(a){let c;try{c=decodeURIComponent(a[1])}catch{return r}r.push([P,n(c,u)]),o(c)}return r}let i=e.searchParams.get("org");if(!i||e.pathname!=="/org/dashboard"&&e.pathname!=="/org/dashboard/")return r;let s=e.searchParams.get("tab")??"";return s==="activity"?(r.push([T,n(i,d)]),r.push([_,n(i,l)])):["audit-log","alerts","integrity"].includes(s)||o(i),r}if(!window.__agPreload){let e=document.querySelector('meta[name="auditgraph-deployment"]')?.getAttribute("content"),t=new Map;for(let[r,o]of N(new URL(location.href),e==="multi-tenant")){let i=b(r,o),s=L(i);s.catch(()=>{}),t.set(i,s)}window.__agPreload=t}})();
