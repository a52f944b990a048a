const __vite__mapDeps=(i,m=__vite__mapDeps,d=(m.f||(m.f=["assets/world-gS7KvpMr.js","assets/world-B4S5OdIH.js","assets/rolldown-runtime-P3Pd_6ND.js"])))=>i.map(i=>d[i]);
import{a as e,c as t,d as n,f as r,g as i,h as a,i as o,l as s,m as c,n as l,o as u,p as d,r as f,s as p,t as m,u as h}from"./echarts-D_ITRm6N.js";(function(){let e=document.createElement(`link`).relList;if(e&&e.supports&&e.supports(`modulepreload`))return;for(let e of document.querySelectorAll(`link[rel="modulepreload"]`))n(e);new MutationObserver(e=>{for(let t of e)if(t.type===`childList`)for(let e of t.addedNodes)e.tagName===`LINK`&&e.rel===`modulepreload`&&n(e)}).observe(document,{childList:!0,subtree:!0});function t(e){let t={};return e.integrity&&(t.integrity=e.integrity),e.referrerPolicy&&(t.referrerPolicy=e.referrerPolicy),t.credentials=e.crossOrigin===`use-credentials`?`include`:e.crossOrigin===`anonymous`?`omit`:`same-origin`,t}function n(e){if(e.ep)return;e.ep=!0;let n=t(e);fetch(e.href,n)}})();var g=globalThis,_=e=>e,v=g.trustedTypes,y=v?v.createPolicy(`lit-html`,{createHTML:e=>e}):void 0,b=`$lit$`,x=`lit$${Math.random().toFixed(9).slice(2)}$`,S=`?`+x,C=`<${S}>`,w=document,T=()=>w.createComment(``),E=e=>e===null||typeof e!=`object`&&typeof e!=`function`,ee=Array.isArray,te=e=>ee(e)||typeof e?.[Symbol.iterator]==`function`,ne=`[ 	
\f\r]`,re=/<(?:(!--|\/[^a-zA-Z])|(\/?[a-zA-Z][^>\s]*)|(\/?$))/g,ie=/-->/g,ae=/>/g,oe=RegExp(`>|${ne}(?:([^\\s"'>=/]+)(${ne}*=${ne}*(?:[^ \t\n\f\r"'\`<>=]|("|')|))|$)`,`g`),se=/'/g,ce=/"/g,le=/^(?:script|style|textarea|title)$/i,D=(e=>(t,...n)=>({_$litType$:e,strings:t,values:n}))(1),ue=Symbol.for(`lit-noChange`),O=Symbol.for(`lit-nothing`),de=new WeakMap,fe=w.createTreeWalker(w,129);function pe(e,t){if(!ee(e)||!e.hasOwnProperty(`raw`))throw Error(`invalid template strings array`);return y===void 0?t:y.createHTML(t)}var me=(e,t)=>{let n=e.length-1,r=[],i,a=t===2?`<svg>`:t===3?`<math>`:``,o=re;for(let t=0;t<n;t++){let n=e[t],s,c,l=-1,u=0;for(;u<n.length&&(o.lastIndex=u,c=o.exec(n),c!==null);)u=o.lastIndex,o===re?c[1]===`!--`?o=ie:c[1]===void 0?c[2]===void 0?c[3]!==void 0&&(o=oe):(le.test(c[2])&&(i=RegExp(`</`+c[2],`g`)),o=oe):o=ae:o===oe?c[0]===`>`?(o=i??re,l=-1):c[1]===void 0?l=-2:(l=o.lastIndex-c[2].length,s=c[1],o=c[3]===void 0?oe:c[3]===`"`?ce:se):o===ce||o===se?o=oe:o===ie||o===ae?o=re:(o=oe,i=void 0);let d=o===oe&&e[t+1].startsWith(`/>`)?` `:``;a+=o===re?n+C:l>=0?(r.push(s),n.slice(0,l)+b+n.slice(l)+x+d):n+x+(l===-2?t:d)}return[pe(e,a+(e[n]||`<?>`)+(t===2?`</svg>`:t===3?`</math>`:``)),r]},he=class e{constructor({strings:t,_$litType$:n},r){let i;this.parts=[];let a=0,o=0,s=t.length-1,c=this.parts,[l,u]=me(t,n);if(this.el=e.createElement(l,r),fe.currentNode=this.el.content,n===2||n===3){let e=this.el.content.firstChild;e.replaceWith(...e.childNodes)}for(;(i=fe.nextNode())!==null&&c.length<s;){if(i.nodeType===1){if(i.hasAttributes())for(let e of i.getAttributeNames())if(e.endsWith(b)){let t=u[o++],n=i.getAttribute(e).split(x),r=/([.?@])?(.*)/.exec(t);c.push({type:1,index:a,name:r[2],strings:n,ctor:r[1]===`.`?be:r[1]===`?`?xe:r[1]===`@`?Se:ye}),i.removeAttribute(e)}else e.startsWith(x)&&(c.push({type:6,index:a}),i.removeAttribute(e));if(le.test(i.tagName)){let e=i.textContent.split(x),t=e.length-1;if(t>0){i.textContent=v?v.emptyScript:``;for(let n=0;n<t;n++)i.append(e[n],T()),fe.nextNode(),c.push({type:2,index:++a});i.append(e[t],T())}}}else if(i.nodeType===8){if(i.data===S)c.push({type:2,index:a});else{let e=-1;for(;(e=i.data.indexOf(x,e+1))!==-1;)c.push({type:7,index:a}),e+=x.length-1}}a++}}static createElement(e,t){let n=w.createElement(`template`);return n.innerHTML=e,n}};function ge(e,t,n=e,r){if(t===ue)return t;let i=r===void 0?n._$Cl:n._$Co?.[r],a=E(t)?void 0:t._$litDirective$;return i?.constructor!==a&&(i?._$AO?.(!1),a===void 0?i=void 0:(i=new a(e),i._$AT(e,n,r)),r===void 0?n._$Cl=i:(n._$Co??=[])[r]=i),i!==void 0&&(t=ge(e,i._$AS(e,t.values),i,r)),t}var _e=class{constructor(e,t){this._$AV=[],this._$AN=void 0,this._$AD=e,this._$AM=t}get parentNode(){return this._$AM.parentNode}get _$AU(){return this._$AM._$AU}u(e){let{el:{content:t},parts:n}=this._$AD,r=(e?.creationScope??w).importNode(t,!0);fe.currentNode=r;let i=fe.nextNode(),a=0,o=0,s=n[0];for(;s!==void 0;){if(a===s.index){let t;s.type===2?t=new ve(i,i.nextSibling,this,e):s.type===1?t=new s.ctor(i,s.name,s.strings,this,e):s.type===6&&(t=new Ce(i,this,e)),this._$AV.push(t),s=n[++o]}a!==s?.index&&(i=fe.nextNode(),a++)}return fe.currentNode=w,r}p(e){let t=0;for(let n of this._$AV)n!==void 0&&(n.strings===void 0?n._$AI(e[t]):(n._$AI(e,n,t),t+=n.strings.length-2)),t++}},ve=class e{get _$AU(){return this._$AM?._$AU??this._$Cv}constructor(e,t,n,r){this.type=2,this._$AH=O,this._$AN=void 0,this._$AA=e,this._$AB=t,this._$AM=n,this.options=r,this._$Cv=r?.isConnected??!0}get parentNode(){let e=this._$AA.parentNode,t=this._$AM;return t!==void 0&&e?.nodeType===11&&(e=t.parentNode),e}get startNode(){return this._$AA}get endNode(){return this._$AB}_$AI(e,t=this){e=ge(this,e,t),E(e)?e===O||e==null||e===``?(this._$AH!==O&&this._$AR(),this._$AH=O):e!==this._$AH&&e!==ue&&this._(e):e._$litType$===void 0?e.nodeType===void 0?te(e)?this.k(e):this._(e):this.T(e):this.$(e)}O(e){return this._$AA.parentNode.insertBefore(e,this._$AB)}T(e){this._$AH!==e&&(this._$AR(),this._$AH=this.O(e))}_(e){this._$AH!==O&&E(this._$AH)?this._$AA.nextSibling.data=e:this.T(w.createTextNode(e)),this._$AH=e}$(e){let{values:t,_$litType$:n}=e,r=typeof n==`number`?this._$AC(e):(n.el===void 0&&(n.el=he.createElement(pe(n.h,n.h[0]),this.options)),n);if(this._$AH?._$AD===r)this._$AH.p(t);else{let e=new _e(r,this),n=e.u(this.options);e.p(t),this.T(n),this._$AH=e}}_$AC(e){let t=de.get(e.strings);return t===void 0&&de.set(e.strings,t=new he(e)),t}k(t){ee(this._$AH)||(this._$AH=[],this._$AR());let n=this._$AH,r,i=0;for(let a of t)i===n.length?n.push(r=new e(this.O(T()),this.O(T()),this,this.options)):r=n[i],r._$AI(a),i++;i<n.length&&(this._$AR(r&&r._$AB.nextSibling,i),n.length=i)}_$AR(e=this._$AA.nextSibling,t){for(this._$AP?.(!1,!0,t);e!==this._$AB;){let t=_(e).nextSibling;_(e).remove(),e=t}}setConnected(e){this._$AM===void 0&&(this._$Cv=e,this._$AP?.(e))}},ye=class{get tagName(){return this.element.tagName}get _$AU(){return this._$AM._$AU}constructor(e,t,n,r,i){this.type=1,this._$AH=O,this._$AN=void 0,this.element=e,this.name=t,this._$AM=r,this.options=i,n.length>2||n[0]!==``||n[1]!==``?(this._$AH=Array(n.length-1).fill(new String),this.strings=n):this._$AH=O}_$AI(e,t=this,n,r){let i=this.strings,a=!1;if(i===void 0)e=ge(this,e,t,0),a=!E(e)||e!==this._$AH&&e!==ue,a&&(this._$AH=e);else{let r=e,o,s;for(e=i[0],o=0;o<i.length-1;o++)s=ge(this,r[n+o],t,o),s===ue&&(s=this._$AH[o]),a||=!E(s)||s!==this._$AH[o],s===O?e=O:e!==O&&(e+=(s??``)+i[o+1]),this._$AH[o]=s}a&&!r&&this.j(e)}j(e){e===O?this.element.removeAttribute(this.name):this.element.setAttribute(this.name,e??``)}},be=class extends ye{constructor(){super(...arguments),this.type=3}j(e){this.element[this.name]=e===O?void 0:e}},xe=class extends ye{constructor(){super(...arguments),this.type=4}j(e){this.element.toggleAttribute(this.name,!!e&&e!==O)}},Se=class extends ye{constructor(e,t,n,r,i){super(e,t,n,r,i),this.type=5}_$AI(e,t=this){if((e=ge(this,e,t,0)??O)===ue)return;let n=this._$AH,r=e===O&&n!==O||e.capture!==n.capture||e.once!==n.once||e.passive!==n.passive,i=e!==O&&(n===O||r);r&&this.element.removeEventListener(this.name,this,n),i&&this.element.addEventListener(this.name,this,e),this._$AH=e}handleEvent(e){typeof this._$AH==`function`?this._$AH.call(this.options?.host??this.element,e):this._$AH.handleEvent(e)}},Ce=class{constructor(e,t,n){this.element=e,this.type=6,this._$AN=void 0,this._$AM=t,this.options=n}get _$AU(){return this._$AM._$AU}_$AI(e){ge(this,e)}};(0,g.litHtmlPolyfillSupport)?.(he,ve),(g.litHtmlVersions??=[]).push(`3.3.3`);var k=(e,t,n)=>{let r=n?.renderBefore??t,i=r._$litPart$;if(i===void 0){let e=n?.renderBefore??null;r._$litPart$=i=new ve(t.insertBefore(T(),e),e,void 0,n??{})}return i._$AI(e),i},A=class extends Error{status;body;constructor(e,t,n){super(n),this.name=`ApiError`,this.status=e,this.body=t}fieldErrors(e){if(this.body&&typeof this.body==`object`&&e in this.body){let t=this.body[e];if(Array.isArray(t))return t.map(String);if(typeof t==`string`)return[t]}return[]}};function we(e,t){if(t&&typeof t==`object`){let e=t;if(typeof e.detail==`string`)return e.detail;let n=[];for(let[t,r]of Object.entries(e)){let e=Array.isArray(r)?r.map(String).join(` `):typeof r==`string`?r:JSON.stringify(r);n.push(t===`non_field_errors`?e:`${t}: ${e}`)}if(n.length)return n.join(`; `)}return e===0?`The server could not be reached.`:`The server answered ${e}.`}var Te={kind:`none`},Ee=null;function De(e){Te=e}function Oe(){return Te}function ke(e){Ee=e}function Ae(e){let t=new URLSearchParams;for(let[n,r]of Object.entries(e))r!=null&&r!==``&&t.set(n,String(r));let n=t.toString();return n?`?${n}`:``}function je(e){let t={};return Te.kind===`share`&&(t[`X-Share-Token`]=Te.token),Te.kind===`session`&&e!==`GET`&&(t[`X-CSRF-Token`]=Te.csrf),t}async function j(e,t={}){let n=t.method??`GET`,r={Accept:`application/json`,...je(n)},i;t.body!==void 0&&(r[`Content-Type`]=`application/json`,i=JSON.stringify(t.body));let a;try{a=await fetch(e+Ae(t.query??{}),{method:n,headers:r,body:i,signal:t.signal,credentials:`same-origin`})}catch(e){throw e instanceof DOMException&&e.name===`AbortError`?e:new A(0,null,we(0,null))}let o=await a.text(),s=null;if(o)try{s=JSON.parse(o)}catch{s=null}if(!a.ok)throw a.status===401&&Te.kind===`session`&&Ee&&Ee(),new A(a.status,s,we(a.status,s));return s}function Me(e){return e instanceof DOMException&&e.name===`AbortError`}var Ne=class{data=null;error=null;loading=!0;abort=null;async run(e){this.abort?.abort();let t=new AbortController;this.abort=t;try{let n=await e(t.signal);if(t.signal.aborted)return!1;this.data=n,this.error=null}catch(e){if(Me(e)||t.signal.aborted)return!1;this.error=e instanceof A?e.message:String(e),this.data=null}return this.loading=!1,!0}stop(){this.abort?.abort()}};function M(e,t={}){return e===null?t:{agent:String(e),...t}}var Pe=e=>j(`/api/auth/state/`,{signal:e}),Fe=(e,t)=>j(`/api/auth/login/`,{method:`POST`,body:{email:e,password:t}}),Ie=(e,t,n)=>j(`/api/auth/setup/`,{method:`POST`,body:{token:e,email:t,password:n}}),Le=()=>j(`/api/auth/logout/`,{method:`POST`,body:{}}),Re=(e,t)=>j(`/api/auth/password/`,{method:`POST`,body:{current_password:e,new_password:t}}),ze=e=>j(`/api/auth/me/`,{signal:e}),Be=(e,t,n)=>j(`/api/metrics/overview/`,{query:M(e,t),signal:n}),Ve=(e,t,n)=>j(`/api/metrics/timeseries/`,{query:M(e,t),signal:n}),He=(e,t,n)=>j(`/api/metrics/llm/`,{query:M(e,t),signal:n}),Ue=(e,t,n)=>j(`/api/metrics/failures/`,{query:M(e,t),signal:n}),We=(e,t,n)=>j(`/api/metrics/users/`,{query:M(e,t),signal:n}),Ge=(e,t)=>j(`/api/metrics/live/`,{query:M(e),signal:t});function Ke(e){let t=Oe();return`/api/dash/live/${Ae(t.kind===`share`?{share:t.token}:M(e))}`}var qe=(e,t,n)=>j(`/api/conversations/`,{query:M(e,t),signal:n}),Je=(e,t,n)=>j(`/api/conversations/${t}/`,{query:M(e),signal:n}),Ye=(e,t,n)=>j(`/api/conversations/${t}/mark/`,{method:`POST`,query:M(e),body:{is_marked:n}}),Xe=(e,t,n)=>j(`/api/conversations/${t}/rename/`,{method:`PATCH`,query:M(e),body:{name:n}}),Ze=(e,t)=>`/api/attachments/${t}/download/${Ae(M(e))}`;function Qe(e,t,n){let{page:r,page_size:i,...a}=n;return`/api/dash/export/${e}.csv${Ae(M(t,a))}`}var $e=e=>j(`/api/dash/agents/`,{signal:e}),et=e=>j(`/api/dash/agents/`,{method:`POST`,body:{name:e}}),tt=(e,t)=>j(`/api/dash/agents/${e}/`,{method:`PATCH`,body:t}),nt=(e,t)=>j(`/api/dash/erasures/?agent=${e}`,{signal:t}),rt=(e,t)=>j(`/api/dash/agents/${e}/keys/`,{signal:t}),it=(e,t)=>j(`/api/dash/agents/${e}/keys/`,{method:`POST`,body:{role:t}}),at=e=>j(`/api/dash/keys/${e}/`,{method:`DELETE`}),ot=e=>j(`/api/dash/users/`,{signal:e}),st=e=>j(`/api/dash/users/`,{method:`POST`,body:e}),ct=(e,t)=>j(`/api/dash/users/${e}/`,{method:`PATCH`,body:t}),lt=e=>j(`/api/dash/users/${e}/`,{method:`DELETE`}),ut=(e,t)=>j(`/api/dash/agents/${e}/shares/`,{signal:t}),dt=(e,t)=>j(`/api/dash/agents/${e}/shares/`,{method:`POST`,body:t}),ft=e=>j(`/api/dash/shares/${e}/`,{method:`DELETE`}),pt=(e,t)=>j(`/api/dash/agents/${e}/reports/`,{signal:t}),mt=(e,t)=>j(`/api/dash/agents/${e}/reports/`,{method:`POST`,body:t}),ht=(e,t)=>j(`/api/dash/reports/${e}/`,{method:`PATCH`,body:t}),gt=e=>j(`/api/dash/reports/${e}/`,{method:`DELETE`}),_t=(e,t)=>j(`/api/dash/reports/${e}/sends/`,{signal:t}),vt=(e,t)=>j(`/api/dash/reports/${e}/preview/`,{method:`POST`,query:t?{period:t}:{}}),yt=(e,t)=>j(`/api/dash/reports/${e}/test/`,{method:`POST`,body:t?{to:t}:{}}),bt=e=>j(`/api/share/info/`,{signal:e});function xt(e){if(!e.logo_url)return null;let t=Oe();if(t.kind!==`share`||/[?&]share=/.test(e.logo_url))return e.logo_url;let n=e.logo_url.includes(`?`)?`&`:`?`;return`${e.logo_url}${n}share=${encodeURIComponent(t.token)}`}function St(e){let t=e?.accent_color;return t&&/^#[0-9a-fA-F]{6}$/.test(t)?t:null}function Ct(e){let t=Number.parseInt(e.slice(1),16),n=[t>>16&255,t>>8&255,t&255].map(e=>{let t=e/255;return t<=.03928?t/12.92:((t+.055)/1.055)**2.4});return .2126*(n[0]??0)+.7152*(n[1]??0)+.0722*(n[2]??0)>.4?`#111827`:`#ffffff`}function wt(e){let t=document.documentElement,n=St(e);n?(t.style.setProperty(`--accent`,n),t.style.setProperty(`--accent-ink`,Ct(n))):(t.style.removeProperty(`--accent`),t.style.removeProperty(`--accent-ink`))}var Tt=e=>!e||!/^[1-9]\d{0,15}$/.test(e)?null:Number(e);function Et(e){let t=e.split(`/`).filter(Boolean),[n,r,i,a]=t;if(t.length===0)return{name:`home`};if(n===`login`&&t.length===1)return{name:`login`};if(n===`setup`&&t.length===1)return{name:`setup`};if(n===`share`&&r&&t.length===2&&/^[A-Za-z0-9_-]{8,128}$/.test(r))return{name:`share`,token:r};if(n===`settings`){if(t.length===1)return{name:`settings`};if(r===`alerts`&&t.length===2)return{name:`alerts-settings`};let e=Tt(i);if(r===`agents`&&e!==null&&t.length===3)return{name:`agent-settings`,agent:e}}if(n===`agents`){if(t.length===1)return{name:`agents`};let e=Tt(r);if(e!==null){if(t.length===2)return{name:`overview`,agent:e};if(i===`conversations`){if(t.length===3)return{name:`conversations`,agent:e};let n=Tt(a);if(n!==null&&t.length===4)return{name:`transcript`,agent:e,pk:n}}}}return{name:`not-found`}}function Dt(e){return JSON.stringify(e)}var N={login:e=>e?`/login?next=${encodeURIComponent(e)}`:`/login`,agents:()=>`/agents`,overview:(e,t=``)=>`/agents/${e}${t?`?${t}`:``}`,conversations:(e,t=``)=>`/agents/${e}/conversations${t?`?${t}`:``}`,transcript:(e,t,n=``)=>`/agents/${e}/conversations/${t}${n?`?${n}`:``}`,settings:()=>`/settings`,agentSettings:e=>`/settings/agents/${e}`,alertsSettings:()=>`/settings/alerts`},Ot=`http://app.invalid`;function kt(e){if(!e||!e.startsWith(`/`)||/[\\\s\u0000-\u001f\u007f]/.test(e))return`/`;let t;try{t=new URL(e,Ot)}catch{return`/`}if(t.origin!==Ot)return`/`;let n=t.pathname+t.search+t.hash;return n.startsWith(`//`)||n.startsWith(`/api/`)||n===`/login`||n.startsWith(`/login?`)||n.startsWith(`/setup`)?`/`:n}function P(e){return e.branding?.display_name?.trim()||e.name}function At(e,t,n,r=!1){let i=t?xt(t):null;return D`<a class=${r?`brand compact`:`brand`} href=${n} title=${e}>
    ${i?D`<img src=${i} alt="" />`:D`<span class="dot" aria-hidden="true"></span>`}
    <span>${e}</span>
  </a>`}function jt(e,t,n){return e.agents.length<2?O:D`<label class="sr-only" for="agent-switch">Agent</label>
    <select id="agent-switch" @change=${t=>{let r=Number(t.target.value),i=location.search.replace(/^\?/,``);e.navigate(n===`conversations`?N.conversations(r,i):N.overview(r,i))}}>
      ${e.agents.map(e=>D`<option value=${e.id} ?selected=${e.id===t.id}>${P(e)}</option>`)}
    </select>`}function F(e,t,n){let r=e.session?.user,i=r?.role===`admin`,a=location.search.replace(/^\?/,``),o=n===`overview`||n===`conversations`?a.replace(/(^|&)(q|feedback|escalated|marked|page)=[^&]*/g,``).replace(/^&/,``):``,s=e=>e===n?`page`:void 0;return D`<header class="topbar">
    <div class="topbar-inner">
      ${t?At(P(t),t.branding,N.overview(t.id),!0):At(`AgentSight`,null,`/`,!0)}
      ${t?D`<nav class="nav" aria-label="Agent">
            <a href=${N.overview(t.id,o)} aria-current=${s(`overview`)??`false`}>Overview</a>
            <a href=${N.conversations(t.id,o)} aria-current=${s(`conversations`)??`false`}>Conversations</a>
          </nav>
          ${jt(e,t,n)}`:D`<nav class="nav" aria-label="Main"><a href=${N.agents()} aria-current=${s(`agents`)??`false`}>Agents</a></nav>`}
      <span class="spacer"></span>
      ${i?D`<nav class="nav" aria-label="Admin"><a href=${N.settings()} aria-current=${s(`settings`)??`false`}>Settings</a></nav>`:O}
      ${r?D`<span class="user"><span class="email" title=${r.email}>${r.email}</span>
            <span class="badge">${r.role}</span>
            <button class="btn small" @click=${()=>void e.signOut()}>Sign out</button></span>`:O}
    </div>
  </header>`}function Mt(e,t){return D`<header class="topbar">
    <div class="topbar-inner">
      ${At(e,t,location.pathname)}
      <span class="spacer"></span>
      <span class="readonly-note">Read-only shared dashboard</span>
    </div>
  </header>`}var Nt;function Pt(e,t=`ok`){let n=document.querySelector(`.toast`);n||(n=document.createElement(`div`),n.setAttribute(`role`,`status`),document.body.append(n)),n.className=`toast${t===`error`?` error`:``}`,n.textContent=e,n.hidden=!1,window.clearTimeout(Nt),Nt=window.setTimeout(()=>{n&&(n.hidden=!0)},t===`error`?6e3:3e3)}function Ft(e){return e.session?.user.role===`admin`}function It(e,t){let n=()=>{document.title=`Agents · AgentSight`,k(D`${F(t,null,`agents`)}
        <main id="main" tabindex="-1">
          <h1>Agents</h1>
          ${t.agents.length===0?D`<div class="card">
                <p>No agents ${Ft(t)?`yet`:`are assigned to you`}.</p>
                ${Ft(t)?D`<p>Create one under <a href=${N.settings()}>Settings</a>, or with
                      <code>agentsight agent create NAME</code>.</p>`:D`<p>Ask an admin to give you access to an agent.</p>`}
              </div>`:D`<div class="card table-wrap">
                <table class="list" data-table="agents">
                  <thead><tr><th scope="col">Agent</th><th scope="col" class="hide-sm">Environments</th><th scope="col"></th></tr></thead>
                  <tbody>
                    ${t.agents.map(e=>D`<tr data-agent=${e.id}>
                        <td><a href=${N.overview(e.id)}>${P(e)}</a>
                          ${e.branding.display_name?D`<span class="muted"> (${e.name})</span>`:``}</td>
                        <td class="hide-sm">${e.environments.join(`, `)}</td>
                        <td><a href=${N.conversations(e.id)}>Conversations</a></td>
                      </tr>`)}
                  </tbody>
                </table>
              </div>`}
        </main>`,e)};return n(),{update:n,dispose:()=>void 0}}function Lt(e,t){let n={};if(e instanceof A)for(let r of t)n[r]=e.fieldErrors(r);return n}function Rt(e){Pe().then(t=>e(t.needs_setup)).catch(()=>void 0)}function zt(e,t,n,r,i,a){return D`<div class="field">
    <label for=${t}>${n}</label>
    <input id=${t} name=${t} type=${r} autocomplete=${i} required />
    ${a?D`<span class="hint">${a}</span>`:O}
    ${(e.fields[t]??[]).map(e=>D`<span class="err">${e}</span>`)}
  </div>`}function Bt(e,t){document.title=`Sign in · AgentSight`;let n={busy:!1,error:null,fields:{}},r=!1,i=async e=>{e.preventDefault();let r=e.target,i=r.elements.namedItem(`email`).value,o=r.elements.namedItem(`password`).value;n.busy=!0,n.error=null,a();try{t(await Fe(i,o))}catch(e){n.error=e instanceof A?e.message:String(e),n.fields=Lt(e,[`email`,`password`]),n.busy=!1,a()}},a=()=>k(D`<main id="main" class="auth-page">
        <form class="auth-card" @submit=${i} novalidate aria-label="Sign in">
          <h1>Sign in to AgentSight</h1>
          ${n.error?D`<div class="form-error" role="alert">${n.error}</div>`:O}
          ${r?D`<div class="notice warn">No admin account exists yet. Open the setup link that
                <code>agentsight serve</code> printed, or create one with
                <code>agentsight user create EMAIL --role admin</code>.</div>`:O}
          ${zt(n,`email`,`E-mail`,`email`,`username`)}
          ${zt(n,`password`,`Password`,`password`,`current-password`)}
          <button class="btn primary" type="submit" ?disabled=${n.busy}>${n.busy?`Signing in…`:`Sign in`}</button>
        </form>
      </main>`,e);return a(),Rt(e=>{r=e,a()}),{update:a,dispose:()=>void 0}}function Vt(e,t){document.title=`Set up · AgentSight`;let n=new URLSearchParams(location.search).get(`token`)??``,r={busy:!1,error:null,fields:{}},i=null,a=async e=>{e.preventDefault();let i=e.target,a=i.elements.namedItem(`email`).value,s=i.elements.namedItem(`password`).value,c=i.elements.namedItem(`password2`).value;if(r.fields={},s!==c)r.fields={password2:[`The passwords differ.`]},o();else{r.busy=!0,r.error=null,o();try{t(await Ie(n,a,s))}catch(e){r.error=e instanceof A?e.message:String(e),r.fields=Lt(e,[`email`,`password`,`token`]),r.busy=!1,o()}}},o=()=>k(D`<main id="main" class="auth-page">
        <form class="auth-card" @submit=${a} novalidate>
          <h1>Create the first admin</h1>
          ${i===!1?D`<div class="notice warn">An admin already exists. <a href="/login">Sign in</a> instead.</div>`:O}
          ${i!==!1&&!n?D`<div class="form-error" role="alert">This page needs the setup link that <code>agentsight serve</code> printed (it ends in <code>?token=…</code>).</div>`:O}
          ${r.error?D`<div class="form-error" role="alert">${r.error}</div>`:O}
          ${i===!1?O:D`${zt(r,`email`,`E-mail`,`email`,`username`)}
                ${zt(r,`password`,`Password`,`password`,`new-password`,`At least 10 characters.`)}
                ${zt(r,`password2`,`Password again`,`password`,`new-password`)}
                <button class="btn primary" type="submit" ?disabled=${r.busy||!n}>${r.busy?`Creating…`:`Create admin and sign in`}</button>`}
        </form>
      </main>`,e);return o(),Rt(e=>{i=e,o()}),{update:o,dispose:()=>void 0}}var Ht=new Intl.DisplayNames([`en`],{type:`region`,fallback:`code`}),Ut=new Intl.DisplayNames([`en`],{type:`language`,fallback:`code`});function I(e){if(!e||e===`unknown`)return`Unknown`;try{return Ht.of(e.toUpperCase())??e}catch{return e}}function Wt(e){if(!e||e===`unknown`)return`Unknown`;try{let t=Ut.of(e);return t&&t!==e?`${t} (${e})`:e}catch{return e}}function Gt(e){return e==null||e===``||e===`unknown`?`Unknown`:e}function Kt(e,t){return e===`country`?I(t):e===`language`?Wt(t):e===`device`||e===`environment`?qt(Gt(t)):Gt(t)}function qt(e){return e.charAt(0).toUpperCase()+e.slice(1)}var Jt=[{value:`unanswered`,label:`Unanswered`},{value:`abandoned`,label:`Abandoned`},{value:`tool_error`,label:`Tool error`},{value:`escalated`,label:`Escalated to a human`}],Yt=1e5;function Xt(e){return Jt.some(t=>t.value===e)}function Zt(e){let t=e.get(`outcome`);if(!Xt(t))return null;let n=e.get(`idle`),r=n!==null&&/^\d+$/.test(n)?Number(n):NaN,i=(t===`unanswered`||t===`abandoned`)&&r>=1&&r<=10080?r:null,a=e.get(`tool`)?.trim()??``,o=t===`tool_error`&&a!==``&&a.length<=255?a:null,s=null,c=e.get(`turns`),l=t===`escalated`&&c!==null?/^(\d+)(\+)?$/.exec(c):null;return l&&Number(l[1])<=Yt&&(s={min:Number(l[1]),max:l[2]?null:Number(l[1])}),{kind:t,idle:i,tool:o,turns:s}}function Qt(e,t){t&&(e.set(`outcome`,t.kind),t.idle!==null&&e.set(`idle`,String(t.idle)),t.tool!==null&&e.set(`tool`,t.tool),t.turns&&e.set(`turns`,t.turns.max===null?`${t.turns.min}+`:String(t.turns.min)))}function $t(e){if(!e)return{};switch(e.kind){case`unanswered`:case`abandoned`:return{[e.kind]:`true`,...e.idle===null?{}:{idle_minutes:String(e.idle)}};case`tool_error`:return e.tool===null?{tool_error:`true`}:{tool_error_name:e.tool};case`escalated`:return e.turns?{escalation_turns_min:String(e.turns.min),...e.turns.max===null?{}:{escalation_turns_max:String(e.turns.max)}}:{escalated:`true`}}}function en(e){let t=Jt.find(t=>t.value===e.kind)?.label??e.kind;return e.kind===`tool_error`&&e.tool?`${t}: ${e.tool}`:e.kind===`escalated`&&e.turns?`${t} after ${e.turns.max===null?`${e.turns.min} or more`:String(e.turns.min)} user message${e.turns.min===1&&e.turns.max!==null?``:`s`}`:(e.kind===`unanswered`||e.kind===`abandoned`)&&e.idle!==null?`${t} (quiet ${tn(e.idle)})`:t}function tn(e){return e%1440==0?`${e/1440} day${e===1440?``:`s`}`:e%60==0?`${e/60} h`:`${e} min`}var nn=[{value:`today`,label:`Today`},{value:`7d`,label:`7 days`},{value:`30d`,label:`30 days`},{value:`month`,label:`This month`},{value:`custom`,label:`Custom`}],rn=/^(\d{4})-(\d{2})-(\d{2})$/;function an(e){let t=rn.exec(e);if(!t)return!1;let[n,r,i]=[Number(t[1]),Number(t[2]),Number(t[3])],a=new Date(Date.UTC(n,r-1,i));return a.getUTCFullYear()===n&&a.getUTCMonth()===r-1&&a.getUTCDate()===i}function on(e,t){let n=new Intl.DateTimeFormat(`en-CA`,{timeZone:t,year:`numeric`,month:`2-digit`,day:`2-digit`}).formatToParts(e),r=e=>n.find(t=>t.type===e)?.value??``;return`${r(`year`)}-${r(`month`)}-${r(`day`)}`}function sn(e,t){let n=rn.exec(e);if(!n)throw Error(`not a day: ${e}`);return new Date(Date.UTC(Number(n[1]),Number(n[2])-1,Number(n[3])+t)).toISOString().slice(0,10)}function cn(e,t,n,r){let i=on(t,n);switch(e){case`today`:return{from:i,to:i};case`7d`:return{from:sn(i,-6),to:i};case`30d`:return{from:sn(i,-29),to:i};case`month`:return{from:`${i.slice(0,8)}01`,to:i};case`custom`:{let e=r?.from&&an(r.from)?r.from:sn(i,-29),t=r?.to&&an(r.to)?r.to:i;return e<=t?{from:e,to:t}:{from:t,to:e}}}}function ln(e){let t=Date.parse(`${e.from}T00:00:00Z`),n=Date.parse(`${e.to}T00:00:00Z`);return Math.round((n-t)/864e5)+1}function un(e){try{return new Intl.DateTimeFormat(`en-US`,{timeZone:e}),!0}catch{return!1}}function L(){let e=Intl.DateTimeFormat().resolvedOptions().timeZone;return e&&un(e)?e:`UTC`}function dn(){return[`UTC`,...(typeof Intl.supportedValuesOf==`function`?Intl.supportedValuesOf(`timeZone`):[]).filter(e=>e!==`UTC`)]}function fn(e){let t=new Date(`${e}T12:00:00Z`);return new Intl.DateTimeFormat(`en-GB`,{weekday:`short`,day:`numeric`,month:`short`,timeZone:`UTC`}).format(t)}function R(e,t){let n=new Date(e);return Number.isNaN(n.getTime())?e:new Intl.DateTimeFormat(`en-GB`,{timeZone:t,day:`numeric`,month:`short`,year:`numeric`,hour:`2-digit`,minute:`2-digit`}).format(n)}function pn(e,t){let n=new Date(e);return Number.isNaN(n.getTime())?e:new Intl.DateTimeFormat(`en-GB`,{timeZone:t,hour:`2-digit`,minute:`2-digit`,second:`2-digit`}).format(n)}var mn=[`environment`,`source`,`device`,`language`,`country`,`customer_id`],hn={environment:`Environment`,source:`Source`,device:`Device`,language:`Language`,country:`Country`,customer_id:`Customer`},gn=[{value:`previous`,label:`Previous period`,short:`vs previous period`},{value:`year`,label:`A year earlier`,short:`vs a year earlier`}],_n=255,vn=new Set(nn.map(e=>e.value));function yn(e){if(e===null)return null;let t=e.trim();return t===``||t.length>_n?null:t}function bn(e){let t=e.get(`range`)??``,n=vn.has(t)?t:`30d`,r=yn(e.get(`from`)),i=yn(e.get(`to`)),a=r!==null&&an(r)?r:null,o=i!==null&&an(i)?i:null;!e.has(`range`)&&(a||o)&&(n=`custom`);let s=yn(e.get(`tz`)),c={};for(let t of mn){let n=yn(e.get(t));n!==null&&(c[t]=t===`country`?n.toUpperCase():n)}let l=e.get(`compare`),u=gn.find(e=>e.value===l)?.value??null;return{range:n,from:n===`custom`?a:null,to:n===`custom`?o:null,tz:s!==null&&un(s)?s:null,filters:c,compare:u,overlay:u!==null&&e.get(`overlay`)===`1`}}function xn(e){let t=e.get(`escalated`),n=Number.parseInt(e.get(`page`)??`1`,10);return{q:yn(e.get(`q`))??``,hasFeedback:e.get(`feedback`)===`1`,escalated:t===`1`||t!==`0`&&null,marked:e.get(`marked`)===`1`,page:Number.isFinite(n)&&n>=1&&n<=1e5?n:1,...Sn(e)}}function Sn(e){let t=Zt(e);return t?{outcome:t}:{}}function Cn(e,t){let n=new URLSearchParams;e.range!==`30d`&&n.set(`range`,e.range),e.range===`custom`&&(e.from&&n.set(`from`,e.from),e.to&&n.set(`to`,e.to)),e.tz&&n.set(`tz`,e.tz),e.compare&&(n.set(`compare`,e.compare),e.overlay&&n.set(`overlay`,`1`));for(let t of mn){let r=e.filters[t];r!==void 0&&r!==``&&n.set(t,r)}return t&&(t.q&&n.set(`q`,t.q),t.hasFeedback&&n.set(`feedback`,`1`),t.escalated!==null&&n.set(`escalated`,t.escalated?`1`:`0`),t.marked&&n.set(`marked`,`1`),Qt(n,t.outcome),t.page>1&&n.set(`page`,String(t.page))),n}function wn(e,t,n){let r={...e.filters};return n===null||n===``?delete r[t]:r[t]=t===`country`?n.toUpperCase():n,{...e,filters:r}}function Tn(e,t){let n=t?.trim()??``,r=e=>e.toLowerCase()===`unknown`,i=e.filter((e,t,n)=>e!==``&&!r(e)&&n.indexOf(e)===t),a=[{value:``,label:`All`,selected:n===``}];for(let e of i)a.push({value:e,label:e,selected:n===e});return n!==``&&!r(n)&&!i.includes(n)&&a.push({value:n,label:n,selected:!0}),a.push({value:`unknown`,label:`Unknown (none set)`,selected:r(n)}),a}function En(e){let t=Object.values(e).flat().filter(e=>typeof e==`string`&&e!==``).filter((e,t,n)=>n.indexOf(e)===t&&e.toLowerCase()!==`unknown`);return t.push(`unknown`),t}function Dn(e){return e==null||e===``?`unknown`:e}function On(e,t,n){let r=e.tz??n;return{...cn(e.range,t,r,{from:e.from??void 0,to:e.to??void 0}),tz:r}}function kn(e,t,n){let r=On(e,t,n),i={from:r.from,to:r.to,tz:r.tz};for(let t of mn){let n=e.filters[t];n&&(i[t]=n)}return e.compare&&(i.compare=e.compare),i}function An(e,t,n,r){let i=On(e,n,r),a={from:i.from,to:i.to,tz:i.tz};for(let t of mn){let n=e.filters[t];n&&(a[t]=n)}return t.q&&(a.q=t.q),t.hasFeedback&&(a.has_feedback=`true`),t.escalated!==null&&(a.escalated=String(t.escalated)),t.marked&&(a.is_marked=`true`),Object.assign(a,$t(t.outcome)),a.page=String(t.page),a.page_size=`25`,a}var jn=null;function Mn(e){let t=e.state,n=L(),r=On(t,new Date,n);jn??=dn();let i=t.tz??n,a=jn.includes(i)?jn:[i,...jn],o=n=>e.go(n===`custom`?{...t,range:`custom`,from:r.from,to:r.to}:{...t,range:n,from:null,to:null}),s=n=>i=>{let a=i.target.value;if(!an(a))return;let o={...t,range:`custom`,from:r.from,to:r.to,[n]:a};o.from>o.to&&([o.from,o.to]=[o.to,o.from]),e.go(o)},c=r=>{let i=r.target.value;e.go({...t,tz:i===n?null:i})},l=n=>{let r=n.target.value,i=gn.find(e=>e.value===r)?.value??null;e.go({...t,compare:i,overlay:i?t.overlay:!1})},u=n=>e.go(wn(t,`environment`,n.target.value||null)),d=n=>{n.preventDefault();let r=n.target,i=r.elements.namedItem(`key`).value,a=r.elements.namedItem(`value`),o=a.value.trim();o&&(a.value=``,e.go(wn(t,i,o)))},f=mn.filter(e=>e!==`environment`&&t.filters[e]!==void 0);return D`<div class="controls" role="group" aria-label="View">
      <div class="seg" role="group" aria-label="Date range">
        ${nn.map(e=>D`<button type="button" aria-pressed=${t.range===e.value?`true`:`false`} data-range=${e.value}
            @click=${()=>o(e.value)}>${e.label}</button>`)}
      </div>
      ${t.range===`custom`?D`<span class="group">
            <label class="sr-only" for="from">From</label>
            <input id="from" type="date" .value=${r.from} max=${r.to} @change=${s(`from`)} />
            <span aria-hidden="true">–</span>
            <label class="sr-only" for="to">To</label>
            <input id="to" type="date" .value=${r.to} min=${r.from} @change=${s(`to`)} />
          </span>`:D`<span class="muted" data-range-label>${r.from===r.to?r.from:`${r.from} – ${r.to}`}</span>`}
      <span class="group">
        <label for="tz">Time zone</label>
        <select id="tz" @change=${c}>
          ${a.map(e=>D`<option value=${e} ?selected=${e===i}>${e}${e===n?` (yours)`:``}</option>`)}
        </select>
      </span>
      <span class="group">
        <label for="env">Environment</label>
        <select id="env" @change=${u}>
          ${Tn(e.environments,t.filters.environment).map(e=>D`<option value=${e.value} ?selected=${e.selected}>${e.label}</option>`)}
        </select>
      </span>
      ${e.compare?D`<span class="group">
            <label for="compare">Compare</label>
            <select id="compare" @change=${l}>
              <option value="" ?selected=${t.compare===null}>Nothing</option>
              ${gn.map(e=>D`<option value=${e.value} ?selected=${t.compare===e.value}>${e.label}</option>`)}
            </select>
          </span>`:O}
      <span class="spacer"></span>
      ${e.extra??O}
    </div>
    <div class="chips" aria-label="Filters">
      ${f.map(n=>{let r=t.filters[n]??``;return D`<span class="chip" data-filter=${n}>
          <span>${hn[n]}: <b>${Kt(n,r)}</b></span>
          <button type="button" aria-label="Remove filter ${hn[n]}" @click=${()=>e.go(wn(t,n,null))}>×</button>
        </span>`})}
      <form class="add-filter" @submit=${d}>
        <label class="sr-only" for="filter-key">Filter on</label>
        <select id="filter-key" name="key">
          ${mn.filter(e=>e!==`environment`).map(e=>D`<option value=${e}>${hn[e]}</option>`)}
        </select>
        <label class="sr-only" for="filter-value">Value</label>
        <input id="filter-value" name="value" type="text" list="filter-values" placeholder="value" maxlength="255" />
        <datalist id="filter-values">
          ${En(e.suggestions).map(e=>D`<option value=${e}></option>`)}
        </datalist>
        <button class="btn small" type="submit">Add filter</button>
      </form>
    </div>`}function Nn(e,t,n,r,i=!1){let a=i?`state inline`:`state`;switch(e){case`loading`:return D`<div class=${a} data-state="loading"><div class="spinner" aria-hidden="true"></div><span>Loading…</span></div>`;case`error`:return D`<div class="${a} error" data-state="error" role="alert">
        <span>Could not load this: ${n??`unknown error`}</span>
        ${r?D`<button class="btn small" @click=${r}>Retry</button>`:O}
      </div>`;case`empty`:return D`<div class=${a} data-state="empty">${t}</div>`;case`ready`:return O}}function z(e){return D`<section class="widget ${e.size??`w4`}" data-widget=${e.id} data-state=${e.state} aria-labelledby="h-${e.id}">
    <div class="widget-head">
      <h2 id="h-${e.id}">${e.title}</h2>
      ${e.sub?D`<span class="sub">${e.sub}</span>`:O}
      <div class="actions">
        ${e.actions??O}
        ${e.onPng&&e.chart!==void 0?D`<button class="btn small" ?disabled=${e.state!==`ready`} @click=${e.onPng}
              aria-label="Download ${e.title} as PNG" title="Download as PNG">PNG</button>`:O}
      </div>
    </div>
    <div class="widget-body">
      ${e.chart===void 0?O:D`<div class="chart ${e.chart} ${e.state===`ready`?``:`is-hidden`}" data-chart=${e.id} role="img"
            aria-label=${e.title}></div>`}
      ${e.state===`ready`?e.body??O:O}
      ${Nn(e.state,e.empty,e.error,e.onRetry,e.chart===void 0)}
    </div>
    ${e.footer??O}
  </section>`}function B(e){if(e==null||!Number.isFinite(e))return`–`;let t=e<0?`-`:``,n=Math.abs(e);if(n<1e3)return t+String(Math.round(n));let r=[`k`,`M`,`B`],i=n;for(let e of r)if(i/=1e3,Math.round(i)<1e3||e===`B`)return t+Rn(i<99.95?i.toFixed(1):i.toFixed(0))+e;return t+String(n)}function V(e){return e==null||!Number.isFinite(e)?`–`:new Intl.NumberFormat(`en-US`,{maximumFractionDigits:2}).format(e)}function Pn(e){if(e==null||!Number.isFinite(e))return`–`;let t=e<0?`-`:``,n=Math.abs(e);if(n<1e3)return`${t}${Math.round(n)} ms`;let r=n/1e3;if(r<60)return`${t}${Ln(r)} s`;let i=r/60;if(i<60)return`${t}${Ln(i)} min`;let a=i/60;return a<48?`${t}${Ln(a)} h`:`${t}${Ln(a/24)} d`}function H(e){if(e==null||!Number.isFinite(e))return`–`;let t=e*100;return t===0?`0%`:Math.abs(t)<10?`${Rn(t.toFixed(1))}%`:`${Math.round(t)}%`}function Fn(e){return e==null||!Number.isFinite(e)?`–`:`${e.toFixed(1)} / 5`}function In(e){if(e<1024)return`${e} B`;let t=e/1024;return t<1024?`${Ln(t)} KB`:`${Ln(t/1024)} MB`}function Ln(e){return e<10?Rn(e.toFixed(1)):String(Math.round(e))}function Rn(e){return e.includes(`.`)?e.replace(/\.0+$/,``).replace(/(\.\d*?)0+$/,`$1`):e}function zn(e,t,n){let r=bn(new URLSearchParams(location.search)),i=xn(new URLSearchParams(location.search)),a=null,o=!0,s=null,c=``,l=null,u=(e,r)=>{let i=Cn(e,r).toString();t.navigate(N.conversations(n.id,i))},d=()=>r.tz??L();async function f(){let e=An(r,i,new Date,L());c=JSON.stringify(e),l?.abort();let t=new AbortController;l=t,o=!0,g();try{a=await qe(n.id,e,t.signal),s=null}catch(e){if(Me(e))return;s=e instanceof A?e.message:String(e),a=null}t.signal.aborted||(o=!1,g())}let p=e=>{e.preventDefault();let t=e.target.elements.namedItem(`q`).value.trim();u(r,{...i,q:t,page:1})};function m(e){let t=N.transcript(n.id,e.id,Cn(r,i).toString()),a=e.geo_location?.city?`${e.geo_location.city}, ${I(e.geo_location.country)}`:e.geo_location?.country?I(e.geo_location.country):`–`;return D`<tr data-conversation=${e.id}>
      <td>
        ${e.is_marked?D`<span class="star" title="Marked" aria-label="Marked">★</span> `:O}
        <a class="clip" href=${t} title=${e.conversation_id}>${e.name||e.conversation_id}</a>
        ${e.name?D`<div class="muted mono clip hide-sm">${e.conversation_id}</div>`:O}
      </td>
      <td>${R(e.started_at,d())}</td>
      <td class="num" data-messages=${e.message_count}>${V(e.message_count)}</td>
      <td class="hide-sm">${e.customer_id??`–`}</td>
      <td class="hide-sm">${e.device??`–`}</td>
      <td class="hide-sm">${e.source??`–`}</td>
      <td class="hide-sm">${e.language??`–`}</td>
      <td class="hide-sm">${a}</td>
      <td class="hide-sm">${e.environment??`–`}</td>
    </tr>`}function h(){let e=An(r,i,new Date,L()),c=D`<span>No conversations match. ${i.q||i.hasFeedback||i.marked||i.escalated!==null||i.outcome||Object.keys(r.filters).length?`Loosen the search or the filters, or pick a wider range.`:D`Send some with the SDK: <code>tracker.get_or_create_conversation("c-1")</code>, then
            <code>track_human_message</code> and <code>send_tracked_data()</code>.`}</span>`,l=o&&!a?`loading`:s?`error`:a&&a.results.length===0?`empty`:`ready`;return D`${F(t,n,`conversations`)}
      <main id="main" tabindex="-1">
        <div class="page-head"><h1>Conversations</h1>
          ${a?D`<span class="sub" data-count=${a.count}>${V(a.count)} matching</span>`:O}
        </div>
        ${Mn({state:r,environments:n.environments,suggestions:{device:[`desktop`,`tablet`,`mobile`]},go:e=>u(e,{...i,page:1})})}
        <div class="controls" role="group" aria-label="Conversation filters">
          <form class="group" role="search" @submit=${p}>
            <label class="sr-only" for="q">Search in messages</label>
            <input id="q" name="q" type="search" placeholder="Search in messages" .value=${i.q} maxlength="255" />
            <button class="btn" type="submit">Search</button>
          </form>
          <label class="check"><input type="checkbox" name="feedback" .checked=${i.hasFeedback}
            @change=${e=>u(r,{...i,hasFeedback:e.target.checked,page:1})} /> Has feedback</label>
          <label class="check"><input type="checkbox" name="marked" .checked=${i.marked}
            @change=${e=>u(r,{...i,marked:e.target.checked,page:1})} /> Marked</label>
          <span class="group">
            <label for="escalated">Escalated</label>
            <select id="escalated" @change=${e=>{let t=e.target.value;u(r,{...i,escalated:t===``?null:t===`1`,page:1})}}>
              <option value="" ?selected=${i.escalated===null}>Any</option>
              <option value="1" ?selected=${i.escalated===!0}>Escalated</option>
              <option value="0" ?selected=${i.escalated===!1}>Not escalated</option>
            </select>
          </span>
          <span class="group">
            <label for="outcome">Where the bot failed</label>
            <select id="outcome" data-control="outcome" @change=${e=>{let t=e.target.value;u(r,{...i,outcome:t===``?null:{kind:t,idle:null,tool:null,turns:null},page:1})}}>
              <option value="" ?selected=${!i.outcome}>Any</option>
              ${Jt.map(e=>D`<option value=${e.value} ?selected=${i.outcome?.kind===e.value}>${e.label}</option>`)}
            </select>
          </span>
          ${i.outcome&&(i.outcome.idle!==null||i.outcome.tool!==null||i.outcome.turns!==null)?D`<span class="outcome-chip badge" data-outcome-chip>${en(i.outcome)}
                <button class="btn small" type="button" aria-label="Clear the failure filter"
                  @click=${()=>u(r,{...i,outcome:null,page:1})}>×</button></span>`:O}
          <span class="spacer"></span>
          <span class="group">
            <a class="btn" href=${Qe(`conversations`,n.id,e)} download data-export="conversations">Export conversations (CSV)</a>
            <a class="btn" href=${Qe(`messages`,n.id,e)} download data-export="messages">Export messages (CSV)</a>
          </span>
        </div>
        <div class="card">
          ${l===`ready`&&a?D`<div class="table-wrap"><table class="list" data-table="conversations">
                <thead><tr>
                  <th scope="col">Conversation</th><th scope="col">Started</th><th scope="col" class="num">Messages</th>
                  <th scope="col" class="hide-sm">Customer</th><th scope="col" class="hide-sm">Device</th>
                  <th scope="col" class="hide-sm">Source</th><th scope="col" class="hide-sm">Language</th>
                  <th scope="col" class="hide-sm">Location</th><th scope="col" class="hide-sm">Environment</th>
                </tr></thead>
                <tbody>${a.results.map(m)}</tbody>
              </table></div>
              <nav class="pager" aria-label="Pages">
                <button class="btn" ?disabled=${a.current_page<=1} @click=${()=>u(r,{...i,page:a.current_page-1})}>← Newer</button>
                <span class="info" data-page=${a.current_page}>Page ${a.current_page} of ${Math.max(1,a.total_pages)}</span>
                <button class="btn" ?disabled=${a.current_page>=a.total_pages} @click=${()=>u(r,{...i,page:a.current_page+1})}>Older →</button>
                ${o?D`<span class="muted">Loading…</span>`:O}
              </nav>`:Nn(l,c,s??void 0,()=>void f(),!0)}
        </div>
      </main>`}function g(){document.title=`Conversations · ${n.name} · AgentSight`,k(h(),e)}return g(),f(),{update(){r=bn(new URLSearchParams(location.search)),i=xn(new URLSearchParams(location.search)),JSON.stringify(An(r,i,new Date,L()))===c?g():f()},dispose(){l?.abort()}}}function Bn(e){if(e&&typeof e==`object`&&`filter`in e){let t=e.filter;if(t&&typeof t==`object`&&`key`in t&&`value`in t){let{key:e,value:n}=t;if(typeof e==`string`&&typeof n==`string`)return{key:e,value:n}}}return null}function U(e){return e.replace(/[&<>"']/g,e=>({"&":`&amp;`,"<":`&lt;`,">":`&gt;`,'"':`&quot;`,"'":`&#39;`})[e]??e)}var W={fontFamily:`system-ui, -apple-system, Segoe UI, Roboto, sans-serif`,color:`#1f2937`},G=[`#0072B2`,`#E69F00`,`#009E73`,`#CC79A7`,`#56B4E9`,`#D55E00`,`#F0E442`,`#000000`],Vn=[`#eef4fb`,`#c6dbef`,`#6baed6`,`#2171b5`,`#08306b`],Hn={positive:`#0072B2`,neutral:`#999999`,negative:`#D55E00`},Un={messages:`#0072B2`,conversations:`#E69F00`,errors:`#D55E00`},K=`#6b7280`;function q(e,t){return e.map(e=>({value:e[t]??null,conversations:e.conversations}))}function Wn(e,t,n=8){let r=t.slice(0,n).map(t=>({name:Kt(e,t.value),value:t.conversations,filter:{key:e,value:Dn(t.value)}})),i=t.slice(n).reduce((e,t)=>e+t.conversations,0);return i>0&&r.push({name:`Other`,value:i}),r}function Gn(e){return t=>{let{name:n,value:r}=t,i=e>0?` (${H(r/e)})`:``;return`${U(n)}<br><b>${V(r)}</b> conversations${i}`}}function Kn(e,t){let n=Wn(e,t,6);return{textStyle:W,color:G,aria:{enabled:!0,decal:{show:!0}},tooltip:{trigger:`item`,formatter:Gn(n.reduce((e,t)=>e+t.value,0))},legend:{bottom:0,left:`center`,type:`plain`,itemGap:8,textStyle:{color:K}},series:[{name:e,type:`pie`,radius:[`45%`,`72%`],center:[`50%`,`44%`],avoidLabelOverlap:!0,label:{show:!0,formatter:e=>`${Math.round(e.percent??0)}%`,color:K},labelLine:{length:6,length2:6},itemStyle:{borderColor:`#fff`,borderWidth:2},data:n,cursor:`pointer`}]}}function qn(e,t){let n=Wn(e,t,8),r=n.reduce((e,t)=>e+t.value,0),i=[...n].reverse();return{textStyle:W,aria:{enabled:!0},grid:{left:8,right:40,top:4,bottom:4,containLabel:!0},tooltip:{trigger:`item`,formatter:Gn(r)},xAxis:{type:`value`,show:!1,minInterval:1},yAxis:{type:`category`,data:i.map(e=>e.name),axisLabel:{color:`#374151`,width:120,overflow:`truncate`},axisTick:{show:!1},axisLine:{show:!1}},series:[{name:e,type:`bar`,data:i.map(e=>({...e,itemStyle:{color:e.filter?G[0]:`#9ca3af`}})),barMaxWidth:18,label:{show:!0,position:`right`,color:K,formatter:e=>B(Number(e.value))},cursor:`pointer`}]}}function Jn(e){return e.every(e=>e.conversations===0)}c([r,p,d,t,n,h,l,s,u,o,e,f,m]);var Yn=`modulepreload`,Xn=function(e){return`/`+e},Zn={},Qn={},$n=function(e){return e.pathname.endsWith(`.css`)},er=function(e,t,n){if(t in e)return e[t];let r=n();if(!r){e[t]=void 0;return}let i=r.then(()=>{e[t]=void 0},n=>{throw delete e[t],n});return e[t]=i,i},tr=function(e,t,n){let r=Promise.resolve();if(t&&t.length>0){let e,i=document.querySelector(`meta[property=csp-nonce]`),a=i?.nonce||i?.getAttribute(`nonce`);function o(e){return Promise.all(e.map(e=>Promise.resolve(e).then(e=>({status:`fulfilled`,value:e}),e=>({status:`rejected`,reason:e}))))}function s(e){return import.meta.resolve?new URL(import.meta.resolve(e)):new URL(e,import.meta.url)}r=o(t.map(t=>{t=Xn(t,n);let r=s(t),i=$n(r);return er(Zn,r.href,()=>{if(e===void 0){e={all:new Set,styles:new Set};let t=document.getElementsByTagName(`link`);for(let n=t.length-1;n>=0;n--){let r=t[n];e.all.add(r.href),r.rel===`stylesheet`&&e.styles.add(r.href)}}let t=i?e.styles:e.all,n=i?Qn[r.href]:void 0;if(!n&&t.has(r.href))return;let o=document.createElement(`link`);if(o.rel=i?`stylesheet`:Yn,i||(o.as=`script`),o.crossOrigin=``,o.href=r.href,a&&o.setAttribute(`nonce`,a),n&&delete Qn[r.href],n?.isConnected?n.replaceWith(o):document.head.appendChild(o),i)return new Promise((e,t)=>{let n=i=>{o.removeEventListener(`load`,n),o.removeEventListener(`error`,n),i.type===`error`?(Qn[r.href]=o,t(Error(`Unable to preload CSS for ${r}`))):e(i)};o.addEventListener(`load`,n),o.addEventListener(`error`,n)})})}).filter(e=>e!==void 0))}function i(e){let t=new Event(`vite:preloadError`,{cancelable:!0});if(t.payload=e,window.dispatchEvent(t),!t.defaultPrevented)throw e}return r.then(t=>{for(let e of t||[])e.status===`rejected`&&i(e.reason);return e().catch(i)})},nr=class{el;chart;observer;clickHandler=null;constructor(e){this.el=e,this.chart=a(e,void 0,{renderer:`canvas`}),this.observer=new ResizeObserver(()=>this.chart.resize()),this.observer.observe(e),this.chart.on(`click`,e=>{let t=Bn(e.data);t&&this.clickHandler&&this.clickHandler(t)})}set(e){this.el.removeAttribute(`data-rendered`),this.chart.off(`finished`),this.chart.on(`finished`,()=>this.el.setAttribute(`data-rendered`,`1`)),this.chart.setOption(e,{notMerge:!0})}onFilter(e){this.clickHandler=e}png(){return this.chart.getDataURL({type:`png`,pixelRatio:2,backgroundColor:`#ffffff`})}dispose(){this.observer.disconnect(),this.chart.dispose()}},rr=class{root;onFilter;hosts=new Map;constructor(e,t=null){this.root=e,this.onFilter=t}get(e){let t=this.root().querySelector(`[data-chart="${e}"]`),n=this.hosts.get(e)??null;return t?(n&&n.el!==t&&(n.dispose(),n=null),n||(n=new nr(t),n.onFilter(this.onFilter),this.hosts.set(e,n)),n):null}download(e,t){let n=this.hosts.get(e);n&&or(n.png(),t.replace(/[^\w.-]+/g,`_`))}dispose(){for(let e of this.hosts.values())e.dispose();this.hosts.clear()}},ir=null;function ar(){return ir||=Promise.all([tr(()=>import(`./world-gS7KvpMr.js`),__vite__mapDeps([0,1,2])),tr(()=>import(`./world-B4S5OdIH.js`).then(e=>e.n),__vite__mapDeps([1,2]))]).then(([e,t])=>{let n=t.default??t;i(`world`,e.worldGeoJson(n))}),ir}function or(e,t){let n=document.createElement(`a`);n.href=e,n.download=t,document.body.append(n),n.click(),n.remove()}function sr(e){let t=ln(e);return t<=1?`hour`:t<=92?`day`:t<=366?`week`:`month`}function cr(e){return`Messages and conversations per ${e}`}var lr=[`Jan`,`Feb`,`Mar`,`Apr`,`May`,`Jun`,`Jul`,`Aug`,`Sep`,`Oct`,`Nov`,`Dec`];function ur(e,t){if(t===`hour`)return/T(\d{2}:\d{2})/.exec(e)?.[1]??e;let n=/^(\d{4})-(\d{2})-(\d{2})/.exec(e);if(!n)return e;let r=lr[Number(n[2])-1]??n[2];return t===`month`?`${r} ${n[1]}`:`${Number(n[3])} ${r}`}function dr(e,t){let n=e.slice(0,4);switch(t){case`hour`:return`${e.slice(0,10)} ${ur(e,t)}`;case`day`:return`${ur(e,t)} ${n}`;case`week`:return`week of ${ur(e,t)} ${n}`;case`month`:return ur(e,t)}}function fr(e,t){let n=new Map(t.map(e=>[e.start,e.value??0]));return e.map(e=>({date:e.start,messages:e.value??0,conversations:n.get(e.start)??0}))}function pr(e,t){return e.map((e,n)=>t[n]??null)}function mr(e,t=`day`,n){let r=e.map(e=>e.date),i=n?pr(e,n):null,a=[{name:`Messages`,type:`bar`,data:e.map(e=>e.messages),itemStyle:{color:Un.messages,borderRadius:[2,2,0,0]},barMaxWidth:28},{name:`Conversations`,type:`line`,yAxisIndex:1,data:e.map(e=>e.conversations),itemStyle:{color:Un.conversations},lineStyle:{width:2.5},symbol:e.length>45?`none`:`circle`,symbolSize:6}];return i&&a.push({name:`Messages, compared`,type:`line`,data:i.map(e=>e?e.messages:null),itemStyle:{color:Un.messages},lineStyle:{width:2,type:`dashed`,opacity:.75},symbol:`none`,connectNulls:!1},{name:`Conversations, compared`,type:`line`,yAxisIndex:1,data:i.map(e=>e?e.conversations:null),itemStyle:{color:Un.conversations},lineStyle:{width:2,type:`dashed`,opacity:.85},symbol:`none`,connectNulls:!1}),{textStyle:W,aria:{enabled:!0,decal:{show:!1}},grid:{left:8,right:8,top:36,bottom:8,containLabel:!0},legend:{top:0,left:0,itemGap:16,textStyle:{color:K},data:[`Messages`,`Conversations`]},tooltip:{trigger:`axis`,formatter:n=>hr(n,e,i,t)},xAxis:{type:`category`,data:r,axisLabel:{color:K,hideOverlap:!0,formatter:e=>ur(e,t)},axisTick:{alignWithLabel:!0}},yAxis:[{type:`value`,name:``,minInterval:1,axisLabel:{color:K,formatter:e=>B(e)}},{type:`value`,name:``,minInterval:1,splitLine:{show:!1},axisLabel:{color:K,formatter:e=>B(e)}}],series:a}}function hr(e,t,n,r){let i=Array.isArray(e)?e:[e],a=i[0]?.dataIndex??0,o=t[a],s=[o?dr(o.date,r):``];for(let e of i){let t=typeof e.value==`number`?V(e.value):`–`,i=e.seriesName.endsWith(`, compared`)&&n?.[a]?` (${dr(n[a].date,r)})`:``;s.push(`${e.marker??``}${e.seriesName}${i}: <b>${t}</b>`)}return s.join(`<br/>`)}function gr(e){return e.every(e=>e.messages===0&&e.conversations===0)}function _r(e){return[{name:`Positive`,value:e.positive,itemStyle:{color:Hn.positive}},{name:`Neutral`,value:e.neutral,itemStyle:{color:Hn.neutral}},{name:`Negative`,value:e.negative,itemStyle:{color:Hn.negative}}]}function vr(e){return{textStyle:W,aria:{enabled:!0,decal:{show:!0}},tooltip:{trigger:`item`,formatter:t=>{let{name:n,value:r}=t,i=e.total>0?` (${H(r/e.total)})`:``;return`${U(n)}<br><b>${V(r)}</b> conversations${i}`}},legend:{bottom:0,left:`center`,textStyle:{color:K}},series:[{name:`Feedback`,type:`pie`,radius:[`45%`,`72%`],center:[`50%`,`44%`],label:{show:!1},itemStyle:{borderColor:`#fff`,borderWidth:2},data:_r(e)}]}}var yr={mon:`Mon`,tue:`Tue`,wed:`Wed`,thu:`Thu`,fri:`Fri`,sat:`Sat`,sun:`Sun`};function br(e){let t=e.matrix.length,n=[];return e.matrix.forEach((e,r)=>{e.forEach((e,i)=>n.push([i,t-1-r,e]))}),n}function xr(e){let t=br(e),n=Math.max(1,...t.map(e=>e[2])),r=e.weekdays.map(e=>yr[e]??e).reverse(),i=Array.from({length:24},(e,t)=>String(t).padStart(2,`0`));return{textStyle:W,aria:{enabled:!0},grid:{left:8,right:8,top:8,bottom:44,containLabel:!0},tooltip:{formatter:e=>{let t=e.value,n=r[t[1]]??``,a=i[t[0]]??``;return`${n} ${a}:00–${a}:59<br><b>${V(t[2])}</b> messages`}},xAxis:{type:`category`,data:i,splitArea:{show:!1},axisLabel:{color:K,interval:2},axisTick:{show:!1}},yAxis:{type:`category`,data:r,axisLabel:{color:K},axisTick:{show:!1}},visualMap:{min:0,max:n,calculable:!1,orient:`horizontal`,left:`center`,bottom:0,itemHeight:120,itemWidth:10,text:[V(n),`0`],textStyle:{color:K},inRange:{color:Vn}},series:[{name:`Messages`,type:`heatmap`,data:t,itemStyle:{borderColor:`#fff`,borderWidth:1},emphasis:{itemStyle:{borderColor:`#111`,borderWidth:1}}}]}}function Sr(e){return e.matrix.every(e=>e.every(e=>e===0))}var Cr=`world`;function wr(e){return e.filter(e=>!!e.country).map(e=>({name:e.country,value:e.conversations,filter:{key:`country`,value:e.country}}))}function Tr(e){return e.filter(e=>e.lat!==null&&e.lon!==null).map(e=>({name:e.city??I(e.country),value:[e.lon,e.lat,e.conversations],country:e.country}))}function Er(e,t){return t<=0?4:Math.round(4+18*Math.sqrt(Math.max(0,e)/t))}function Dr(e,t,n=!1){let r=wr(e),i=Tr(t),a=Math.max(1,...r.map(e=>e.value)),o=Math.max(1,...i.map(e=>e.value[2]));return{textStyle:W,aria:{enabled:!0},tooltip:{trigger:`item`,formatter:e=>{let t=e;if(t.seriesType===`scatter`&&t.data){let e=t.data.country?`, ${U(I(t.data.country))}`:``;return`${U(t.data.name)}${e}<br><b>${V(t.data.value[2])}</b> conversations`}let n=typeof t.value==`number`&&Number.isFinite(t.value)?t.value:0;return`${U(I(t.name))}<br><b>${V(n)}</b> conversations`}},visualMap:{show:!n,type:`continuous`,seriesIndex:0,min:0,max:a,left:8,bottom:8,itemHeight:90,itemWidth:10,text:[V(a),`0`],textStyle:{color:K},inRange:{color:Vn.slice(1)},calculable:!1},geo:{map:Cr,roam:!1,boundingCoords:[[-170,84],[191,-57]],left:4,right:4,top:4,bottom:4,itemStyle:{areaColor:`#f3f4f6`,borderColor:`#d1d5db`,borderWidth:.5},emphasis:{itemStyle:{areaColor:`#fde68a`},label:{show:!1}},select:{disabled:!0},label:{show:!1}},series:[{name:`Conversations by country`,type:`map`,geoIndex:0,data:r,cursor:`pointer`},{name:`Cities`,type:`scatter`,coordinateSystem:`geo`,data:i,symbolSize:e=>Er(e[2]??0,o),itemStyle:{color:`#E69F00`,borderColor:`#7c2d12`,borderWidth:.5,opacity:.85},zlevel:1}]}}function Or(e){return wr(e).length===0}function kr(e,t=10){let n=e.slice(0,t).reverse();return{textStyle:W,aria:{enabled:!0,decal:{show:!0}},legend:{top:0,left:0,textStyle:{color:K}},grid:{left:8,right:40,top:30,bottom:4,containLabel:!0},tooltip:{trigger:`axis`,axisPointer:{type:`shadow`},formatter:e=>{let t=n[e[0]?.dataIndex??-1];return t?`<b>${U(t.name)}</b><br>${V(t.calls)} calls · ${V(t.errors)} errors<br>average ${Pn(t.avg_duration_ms)}`:``}},xAxis:{type:`value`,show:!1,minInterval:1},yAxis:{type:`category`,data:n.map(e=>e.name),axisLabel:{color:`#374151`,width:130,overflow:`truncate`},axisTick:{show:!1},axisLine:{show:!1}},series:[{name:`Calls`,type:`bar`,data:n.map(e=>e.calls),itemStyle:{color:Un.messages},barMaxWidth:16,label:{show:!0,position:`right`,color:K,formatter:e=>B(Number(e.value))}},{name:`Errors`,type:`bar`,data:n.map(e=>e.errors),itemStyle:{color:Un.errors},barMaxWidth:16}]}}function Ar(e){return e.calls>0?e.errors/e.calls:0}var jr=4e3,Mr=12e3,Nr=class{agent;h;status=`connecting`;active=null;source=null;lastEvent=0;watchdog;reconnect;stopped=!1;constructor(e,t){this.agent=e,this.h=t}start(){this.stopped=!1,this.lastEvent=Date.now(),this.open(),this.watchdog=window.setInterval(()=>void this.check(),jr)}stop(){this.stopped=!0,this.source?.close(),this.source=null,window.clearInterval(this.watchdog),window.clearTimeout(this.reconnect)}open(){let e=new EventSource(Ke(this.agent));this.source=e,e.addEventListener(`live`,e=>{try{let t=JSON.parse(e.data);this.active=t.active_conversations}catch{}this.seen()}),e.addEventListener(`update`,e=>{try{let t=JSON.parse(e.data);(this.agent===null||t.agent_id===this.agent)&&this.h.onUpdate()}catch{this.h.onUpdate()}this.seen()}),e.addEventListener(`error`,()=>{this.stopped||(e.readyState===EventSource.CLOSED?(this.setStatus(`offline`),this.reconnect=window.setTimeout(()=>{this.stopped||this.open()},5e3)):this.setStatus(`connecting`))})}seen(){this.lastEvent=Date.now(),this.setStatus(`live`),this.h.onChange()}setStatus(e){this.status!==e&&(this.status=e,this.h.onChange())}async check(){if(!(this.stopped||Date.now()-this.lastEvent<Mr)){this.status===`live`&&this.setStatus(`connecting`);try{let e=await Ge(this.agent);this.active=e.active_conversations,this.h.onChange(),this.h.onUpdate()}catch{this.setStatus(`offline`)}}}};function Pr(e){let t=e?.status??`offline`,n=t===`live`?`Live`:t===`connecting`?`Connecting…`:`Offline`,r=e?.active;return D`<span class="live" data-status=${t} data-live title="Updates arrive without reloading the page">
    <span class="pulse" aria-hidden="true"></span>
    <span>${n}</span>
    <span aria-hidden="true">·</span>
    <span><b data-active=${r??``}>${r==null?`–`:B(r)}</b>
      active in the last 5 min</span>
  </span>`}function Fr(e){let t=Math.abs(e);return String(t<10?Number(t.toFixed(1)):Math.round(t))}function Ir(e,t,n,r,i){let a=(e,t=`no data before`)=>({direction:`none`,text:t,verdict:`neutral`,label:e});if(e===null&&t===null)return a(`No change to show: no value in either range.`,`no data`);if(e===null)return a(`No change to show: no value in this range.`,`no data now`);if(t===null)return a(`No change to show: no value in the compared range.`);if(n===`relative`&&t===0)return a(`No percentage: the compared range had 0.`);let o=e-t,s=n===`relative`?`${Fr(o/t*100)}%`:`${Fr(o*100)} pts`,c=o>0?`up`:o<0?`down`:`same`,l=c===`same`||r===`neither`?`neutral`:c===r?`good`:`bad`,u=c===`up`?`▲`:c===`down`?`▼`:`=`,d=c===`up`?`Up`:c===`down`?`Down`:`No change,`,f=l===`good`?`, better`:l===`bad`?`, worse`:``;return{direction:c,text:`${u} ${s}`,verdict:l,label:`${d} ${s} from ${i} in the compared range${f}.`}}var Lr={total_messages:{kind:`relative`,better:`up`},total_conversations:{kind:`relative`,better:`up`},unique_users:{kind:`relative`,better:`up`},unique_interactions:{kind:`relative`,better:`up`},avg_bot_response_time_ms:{kind:`relative`,better:`down`},avg_conversation_duration_ms:{kind:`relative`,better:`neither`},human_escalation_rate:{kind:`points`,better:`down`},satisfaction_rate:{kind:`points`,better:`up`}};function Rr(e){let t=zr(e),n=e.previous?zr(e.previous):null;return t.map((e,t)=>{let r=n?.[t],i=Lr[e.id],a=r&&i?Ir(e.raw,r.raw,i.kind,i.better,r.value):null;return{...e,change:a}})}function zr(e){let t=e.feedback,n=t.ratings.count>0?` · rating ${Fn(t.ratings.average)}`:``;return[{id:`total_messages`,label:`Total messages`,value:B(e.total_messages),raw:e.total_messages,note:`${B(e.messages_by_sender.end_user)} from users · ${B(e.messages_by_sender.agent)} from the bot`},{id:`total_conversations`,label:`Total conversations`,value:B(e.total_conversations),raw:e.total_conversations,note:`started in this range`},{id:`unique_users`,label:`Unique users`,value:B(e.unique_users),raw:e.unique_users,note:`distinct customer ids`},{id:`unique_interactions`,label:`Unique interactions`,value:B(e.unique_interactions),raw:e.unique_interactions,note:`${H(e.unique_interaction_rate)} of conversations`},{id:`avg_bot_response_time_ms`,label:`Avg bot response time`,value:Pn(e.avg_bot_response_time_ms),raw:e.avg_bot_response_time_ms,note:e.bot_responses>0?`over ${B(e.bot_responses)} responses`:`no responses yet`},{id:`avg_conversation_duration_ms`,label:`Avg conversation duration`,value:Pn(e.avg_conversation_duration_ms),raw:e.avg_conversation_duration_ms,note:`first to last event`},{id:`human_escalation_rate`,label:`Human escalation rate`,value:H(e.human_escalation.rate),raw:e.human_escalation.rate,note:`${V(e.human_escalation.conversations)} ${e.human_escalation.conversations===1?`conversation`:`conversations`} escalated`},{id:`satisfaction_rate`,label:`Satisfaction`,value:H(t.satisfaction_rate),raw:t.satisfaction_rate,note:t.total>0?`${B(t.positive)} of ${B(t.total)} positive${n}`:`no feedback yet`}]}function Br(e){return{q:``,hasFeedback:!1,escalated:null,marked:!1,page:1,outcome:e}}function Vr(e,t){return Cn(e,Br(t)).toString()}function Hr(e,t,n={}){return{kind:t,idle:(t===`unanswered`||t===`abandoned`)&&e.idle_minutes!==30?e.idle_minutes:null,tool:n.tool??null,turns:n.turns??null}}function Ur(e){return e.or_more?`${e.turns}+`:String(e.turns)}function Wr(e){let t=Math.max(0,...e);return e.map(e=>t>0?Math.round(e/t*1e3)/10:0)}function Gr(e){return e.conversations===0&&e.tool_errors.calls===0}var Kr=D`<span>No conversations in this range. Unanswered and abandoned conversations come from
  <code>track_human_message</code> / <code>track_agent_message</code> (or SDK 0.1.x turns), tool errors
  from actions with an <code>error_msg</code> (or tool spans with the status <code>error</code>).</span>`,qr=class{o;fetched=new Ne;get data(){return this.fetched.data}get error(){return this.fetched.error}get loading(){return this.fetched.loading}lastParams={};constructor(e){this.o=e}async load(e){let{compare:t,...n}=e,r=new URLSearchParams(location.search).get(`idle`),i=r&&/^\d+$/.test(r)?{...n,idle_minutes:r}:n;this.lastParams=e,await this.fetched.run(e=>Ue(this.o.agentId,i,e))&&this.o.redraw()}link(e,t,n,r){let i=V(e),a=this.o.listHref;return a?D`<a href=${a(Vr(this.o.state(),t))} data-figure=${r} data-value=${e}
      title=${`Open the ${n} conversations`} aria-label=${`${i} ${n} conversations: open the list`}>${i}</a>`:D`<span data-figure=${r} data-value=${e}>${i}</span>`}view(){let e=this.data,t=()=>void this.load(this.lastParams),n=D`<div class="section-head"><h2 class="section-title" id="h-failures">Where the bot fails</h2>
      ${e?D`<span class="sub" data-idle=${e.idle_minutes}>unanswered and abandoned after ${tn(e.idle_minutes)} of quiet</span>`:O}</div>`;if(this.loading||!e||this.error||Gr(e))return D`<section class="failures-section" data-section="failures" aria-labelledby="h-failures">
        ${n}
        <div class="grid">
          ${z({id:`failures`,title:`Unanswered, abandoned, tool errors, escalations`,size:`w12`,state:this.error?`error`:this.loading&&!e?`loading`:`empty`,empty:Kr,error:this.error??void 0,onRetry:t})}
        </div>
      </section>`;let r=e.unanswered,i=e.abandoned,a=e.tool_errors,o=e.escalations,s=Wr(o.by_turns.map(e=>e.conversations));return D`<section class="failures-section" data-section="failures" aria-labelledby="h-failures">
      ${n}
      <div class="grid">
        ${z({id:`failures-outcomes`,title:`Unanswered and abandoned`,sub:`of ${V(e.settled)} settled conversations with a user message`,size:`w4`,state:`ready`,empty:Kr,body:D`<dl class="llm-figures" data-failures-figures>
            <div><dt>Unanswered <span class="muted">(the last user message got no reply)</span></dt>
              <dd class=${r.conversations>0?`bad`:``}>${this.link(r.conversations,Hr(e,`unanswered`),`unanswered`,`unanswered`)}
                <span class="muted" data-rate="unanswered">${H(r.rate)}</span></dd></div>
            <div><dt>Abandoned <span class="muted">(no reply from the user after the bot's)</span></dt>
              <dd>${this.link(i.conversations,Hr(e,`abandoned`),`abandoned`,`abandoned`)}
                <span class="muted" data-rate="abandoned">${H(i.rate)}</span></dd></div>
            <div><dt>Still live <span class="muted">(active in the last ${tn(e.idle_minutes)})</span></dt>
              <dd data-figure="awaiting" data-value=${e.awaiting}>${V(e.awaiting)}</dd></div>
            <div><dt>Conversations with a tool error</dt>
              <dd>${this.link(a.conversations,Hr(e,`tool_error`),`tool error`,`tool_error`)}</dd></div>
          </dl>`})}
        ${z({id:`failures-tools`,title:`Tool errors by tool`,sub:`${V(a.errors)} of ${V(a.calls)} calls failed`,size:`w4`,state:a.tools.length===0?`empty`:`ready`,empty:D`<span>No tool call failed in this range.</span>`,body:D`<div class="table-wrap"><table class="mini-table" data-table="tool-errors">
            <thead><tr><th scope="col">Tool</th><th class="num" scope="col">Errors</th><th class="num" scope="col">Rate</th><th class="num" scope="col">Conversations</th></tr></thead>
            <tbody>
              ${a.tools.map(t=>D`<tr data-tool=${t.name}>
                  <td class="model">${t.name}</td>
                  <td class="num" data-errors=${t.errors} title=${`${V(t.errors)} of ${V(t.calls)} calls`}>${V(t.errors)}</td>
                  <td class="num">${H(t.error_rate)}</td>
                  <td class="num">${this.link(t.conversations,Hr(e,`tool_error`,{tool:t.name}),`${t.name} error`,`tool_conversations`)}</td>
                </tr>`)}
            </tbody>
          </table></div>`})}
        ${z({id:`failures-escalations`,title:`Escalated after N user messages`,sub:`${V(o.conversations)} escalated (${H(o.rate)})`,size:`w4`,state:o.conversations===0?`empty`:`ready`,empty:D`<span>No conversation escalated to a human in this range (the agent's escalation actions, Settings).</span>`,body:D`<div class="table-wrap"><table class="mini-table turns" data-table="escalation-turns">
            <thead><tr><th scope="col">User messages before</th><th scope="col">Conversations</th></tr></thead>
            <tbody>
              ${o.by_turns.map((t,n)=>D`<tr data-turns=${Ur(t)}>
                  <td>${Ur(t)}</td>
                  <td><span class="bar" style=${`width:${s[n]}%`} aria-hidden="true"></span>
                    ${t.conversations>0?this.link(t.conversations,Hr(e,`escalated`,{turns:{min:t.turns,max:t.or_more?null:t.turns}}),`escalated after ${Ur(t)} user messages`,`turns`):D`<span class="muted">0</span>`}</td>
                </tr>`)}
            </tbody>
          </table></div>`})}
        ${z({id:`failures-questions`,title:`Most frequent first questions`,sub:`${V(e.first_questions.distinct)} distinct among ${V(e.first_questions.conversations)} conversations; numbers, ids and e-mails masked`,size:`w12`,state:e.first_questions.conversations===0?`empty`:`ready`,empty:D`<span>No user message in this range.</span>`,body:this.questions(e)})}
      </div>
    </section>`}questions(e){if(e.first_questions.top.length===0)return D`<p class="muted" data-questions-note>${this.o.transcriptHref?`No first question has any words left once normalized.`:`Questions are not shown on a shared link: they are what end users typed.`}</p>`;let t=this.o.transcriptHref;return D`<div class="table-wrap"><table class="mini-table" data-table="first-questions">
      <thead><tr><th scope="col">First question (normalized)</th><th class="num" scope="col">Conversations</th><th scope="col">Example</th></tr></thead>
      <tbody>
        ${e.first_questions.top.map(e=>D`<tr data-question=${e.question}>
            <td class="question">${e.question}</td>
            <td class="num" data-value=${e.conversations}>${V(e.conversations)}</td>
            <td class="cid">${t?D`<a href=${t(e.sample_conversation)}>${e.sample_conversation_id}</a>`:e.sample_conversation_id}</td>
          </tr>`)}
      </tbody>
    </table></div>`}dispose(){this.fetched.stop()}};function Jr(e){return e==null||!/^-?\d+(\.\d+)?$/.test(e)?`–`:Yr(Number(e))}function Yr(e){if(!Number.isFinite(e))return`–`;let t=e<0?`-`:``,n=Math.abs(e);if(n===0)return`$0.00`;if(n>=1)return`${t}$${new Intl.NumberFormat(`en-US`,{minimumFractionDigits:2,maximumFractionDigits:2}).format(n)}`;if(n>=.01)return`${t}$${Xr(n.toFixed(4),2)}`;let r=Math.min(20,2-Math.floor(Math.log10(n)));return`${t}$${Xr(n.toFixed(r),2)}`}function Xr(e,t){let[n,r=``]=e.split(`.`),i=r.replace(/0+$/,``);return i.length<t&&(i=i.padEnd(t,`0`)),`${n}.${i}`}function Zr(e){return`prices of ${e}`}function Qr(e){let t=[{field:`input_tokens`,label:`Input (uncached)`,tokens:e.input_tokens},{field:`output_tokens`,label:`Output`,tokens:e.output_tokens},{field:`cache_read_tokens`,label:`Cache reads`,tokens:e.cache_read_tokens},{field:`cache_write_tokens`,label:`Cache writes`,tokens:e.cache_write_tokens},{field:`embedding_tokens`,label:`Embedding`,tokens:e.embedding_tokens}],n=[{field:`reasoning_tokens`,label:`Reasoning`,tokens:e.reasoning_tokens,subsetOf:`output`},{field:`audio_input_tokens`,label:`Audio input`,tokens:e.audio_input_tokens,subsetOf:`input`},{field:`audio_output_tokens`,label:`Audio output`,tokens:e.audio_output_tokens,subsetOf:`output`}];return[...t,...n.filter(e=>e.tokens>0)]}function $r(e){return e.totals.calls===0&&e.totals.total_tokens===0}function ei(e){return e.daily.every(e=>Number(e.cost_usd)===0)}function ti(e){let t=e.daily;return{textStyle:W,aria:{enabled:!0,decal:{show:!1}},grid:{left:8,right:8,top:16,bottom:8,containLabel:!0},tooltip:{trigger:`axis`,formatter:n=>{let r=(Array.isArray(n)?n[0]:n).dataIndex??0,i=t[r];return i?`${U(i.date)}<br>Cost <b>${U(Jr(i.cost_usd))}</b> (${U(i.cost_usd)} USD, ${U(Zr(e.price_table))})<br>Calls ${V(i.calls)}`:``}},xAxis:{type:`category`,data:t.map(e=>e.date),axisLabel:{color:K,hideOverlap:!0,formatter:e=>fn(e).replace(/^\w+ /,``)},axisTick:{alignWithLabel:!0}},yAxis:{type:`value`,axisLabel:{color:K,formatter:e=>Yr(e)}},series:[{name:`Cost (USD)`,type:`bar`,data:t.map(e=>Number(e.cost_usd)),itemStyle:{color:Un.messages,borderRadius:[2,2,0,0]},barMaxWidth:28}]}}function ni(e){let t=e.by_model.slice(0,8).reverse();return{textStyle:W,aria:{enabled:!0,decal:{show:!0}},grid:{left:8,right:16,top:8,bottom:8,containLabel:!0},tooltip:{trigger:`item`,formatter:n=>{let r=t[n.dataIndex??0];return r?`${U(r.model)}<br>Cost <b>${U(Jr(r.cost_usd))}</b> (${U(Zr(e.price_table))})<br>Calls ${V(r.calls)}${r.unpriced_calls>0?` (${V(r.unpriced_calls)} unpriced)`:``}`:``}},xAxis:{type:`value`,splitNumber:3,axisLabel:{color:K,hideOverlap:!0,formatter:e=>Yr(e)}},yAxis:{type:`category`,data:t.map(e=>e.model),axisLabel:{color:K,width:140,overflow:`truncate`}},series:[{name:`Cost (USD)`,type:`bar`,data:t.map((e,n)=>({value:Number(e.cost_usd),itemStyle:{color:G[(t.length-1-n)%G.length]}})),barMaxWidth:22}]}}var ri=D`<span data-llm-empty>No LLM data in this range. Token usage and cost come from LLM calls tracked
  with SDK 0.1.x (<code>agentsight.init()</code> with the OpenAI or Anthropic instrumentation, or
  <code>turn.llm_call(…)</code>) or OpenTelemetry GenAI spans sent to <code>/v1/traces</code>.</span>`;function ii(e,t,n){return D`<span class="usd" data-usd=${n} data-exact=${e??``} title=${e===null?``:`${e} USD, ${Zr(t)}`}
    >${Jr(e)}</span>`}var ai=class{o;fetched=new Ne;get data(){return this.fetched.data}get error(){return this.fetched.error}get loading(){return this.fetched.loading}hosts=new rr(()=>this.o.root);lastParams={};constructor(e){this.o=e}async load(e){this.lastParams=e,await this.fetched.run(t=>He(this.o.agentId,e,t))&&(this.o.redraw(),this.paint())}state(e){return this.error?`error`:this.data?e?`empty`:`ready`:`loading`}png(e,t){return()=>{let n=this.data;n&&this.hosts.download(e,`${this.o.title}-${t}-${n.range.from}-${n.range.to}.png`)}}view(){let e=this.data,t=()=>void this.load(this.lastParams),n=this.error??void 0,r=D`<div class="section-head"><h2 class="section-title" id="h-llm">LLM usage</h2>
      ${e&&!$r(e)?D`<span class="sub" data-price-table=${e.price_table}>costs at ${Zr(e.price_table)}</span>`:O}</div>`;if(this.loading||!e||$r(e)||this.error)return D`<section class="llm-section" data-section="llm" aria-labelledby="h-llm">
        ${r}
        <div class="grid">
          ${z({id:`llm`,title:`LLM calls, tokens and cost`,size:`w12`,state:this.error?`error`:this.loading&&!e?`loading`:`empty`,empty:ri,error:n,onRetry:t})}
        </div>
      </section>`;let i=e.price_table,a=e.totals,o=e.per_conversation,s=Zr(i);return D`<section class="llm-section" data-section="llm" aria-labelledby="h-llm">
      ${r}
      <div class="grid">
        ${z({id:`llm-cost`,title:`LLM cost`,sub:s,size:`w4`,state:`ready`,empty:ri,body:D`<dl class="llm-figures" data-llm-figures>
            <div><dt>Total cost</dt><dd>${ii(a.cost_usd,i,`total`)}</dd></div>
            <div><dt>LLM calls</dt><dd data-count="calls" data-value=${a.calls}>${V(a.calls)}</dd></div>
            <div><dt>Conversations with a cost</dt><dd data-count="conversations" data-value=${o.conversations}>${V(o.conversations)}</dd></div>
            <div><dt>Cost per conversation, average</dt><dd>${ii(o.average_cost_usd,i,`average`)}</dd></div>
            <div><dt>Cost per conversation, p95</dt><dd>${ii(o.p95_cost_usd,i,`p95`)}</dd></div>
            <div><dt>Failed calls</dt><dd data-count="errors" data-value=${a.errors} class=${a.errors>0?`bad`:``}>${V(a.errors)}</dd></div>
            ${a.unpriced_calls>0?D`<div><dt>Calls of unpriced models (not in the cost)</dt><dd data-count="unpriced" data-value=${a.unpriced_calls}>${V(a.unpriced_calls)}</dd></div>`:O}
          </dl>`})}
        ${z({id:`llm-daily`,title:`LLM cost per day`,sub:s,size:`w8`,state:this.state(ei(e)),empty:D`<span>No priced LLM calls in this range.</span>`,error:n,onRetry:t,chart:``,onPng:this.png(`llm-daily`,`llm-cost-per-day`),body:D`<details class="llm-days">
            <summary>As a table</summary>
            <table class="mini-table" data-table="llm-daily">
              <thead><tr><th scope="col">Day</th><th class="num" scope="col">Calls</th><th class="num" scope="col">Tokens</th><th class="num" scope="col">Cost</th></tr></thead>
              <tbody>
                ${e.daily.map(e=>D`<tr data-date=${e.date}>
                    <td>${e.date}</td>
                    <td class="num" data-calls=${e.calls}>${V(e.calls)}</td>
                    <td class="num" data-tokens=${e.total_tokens}>${V(e.total_tokens)}</td>
                    <td class="num">${ii(e.cost_usd,i,`day`)}</td>
                  </tr>`)}
              </tbody>
            </table>
          </details>`})}
        ${z({id:`llm-tokens`,title:`Tokens by kind`,sub:`${B(a.total_tokens)} in all`,size:`w4`,state:`ready`,empty:ri,body:D`<table class="mini-table" data-table="llm-tokens">
            <thead><tr><th scope="col">Kind</th><th class="num" scope="col">Tokens</th></tr></thead>
            <tbody>
              ${Qr(a).map(e=>D`<tr data-kind=${e.field}>
                  <td>${e.subsetOf?D`<span class="muted">of which</span> ${e.label.toLowerCase()} <span class="muted">(in ${e.subsetOf})</span>`:e.label}</td>
                  <td class="num" data-value=${e.tokens}>${V(e.tokens)}</td>
                </tr>`)}
              <tr data-kind="total_tokens"><th scope="row">Total</th><td class="num" data-value=${a.total_tokens}><b>${V(a.total_tokens)}</b></td></tr>
            </tbody>
          </table>`})}
        ${z({id:`llm-models`,title:`Cost by model`,sub:s,size:`w4`,state:`ready`,empty:ri,chart:``,onPng:this.png(`llm-models`,`llm-cost-by-model`),body:D`<table class="mini-table" data-table="llm-models">
            <thead><tr><th scope="col">Model</th><th class="num" scope="col">Calls</th><th class="num" scope="col">Tokens</th><th class="num" scope="col">Cost</th></tr></thead>
            <tbody>
              ${e.by_model.slice(0,8).map(e=>D`<tr data-model=${e.model}>
                  <td class="model">${e.model}</td>
                  <td class="num" data-calls=${e.calls}>${V(e.calls)}</td>
                  <td class="num" data-tokens=${e.total_tokens} title=${V(e.total_tokens)}>${B(e.total_tokens)}</td>
                  <td class="num">${e.unpriced_calls===e.calls&&e.calls>0?D`<span class="muted" data-usd="model" data-exact=${e.cost_usd} title="not in the price table">unpriced</span>`:ii(e.cost_usd,i,`model`)}</td>
                </tr>`)}
            </tbody>
          </table>`})}
        ${z({id:`llm-top`,title:`Most expensive conversations`,sub:s,size:`w4`,state:`ready`,empty:ri,body:this.topTable(e)})}
      </div>
    </section>`}topTable(e){if(e.top_conversations.length===0)return D`<p class="muted" data-llm-top-note>${this.o.transcriptHref?`No conversation has a priced LLM call in this range.`:`Conversations are not shown on a shared link.`}</p>`;let t=this.o.transcriptHref;return D`<table class="mini-table" data-table="llm-top">
      <thead><tr><th scope="col">Conversation</th><th class="num" scope="col">Calls</th><th class="num" scope="col">Tokens</th><th class="num" scope="col">Cost</th></tr></thead>
      <tbody>
        ${e.top_conversations.map(n=>D`<tr data-conversation=${n.conversation}>
            <td class="cid">${t?D`<a href=${t(n.conversation)}>${n.conversation_id}</a>`:n.conversation_id}</td>
            <td class="num" data-calls=${n.calls}>${V(n.calls)}</td>
            <td class="num" data-tokens=${n.total_tokens} title=${V(n.total_tokens)}>${B(n.total_tokens)}</td>
            <td class="num">${ii(n.cost_usd,e.price_table,`conversation`)}</td>
          </tr>`)}
      </tbody>
    </table>`}host(e){return this.hosts.get(e)}paint(){let e=this.data;e&&!$r(e)&&(ei(e)||this.host(`llm-daily`)?.set(ti(e)),this.host(`llm-models`)?.set(ni(e)))}dispose(){this.fetched.stop(),this.hosts.dispose()}};function oi(e){return ln(e)<=92?`day`:`week`}function si(e){return e.totals.users===0}function ci(e,t){if(e.users===0)return null;let n=e.retained[t];return n===void 0?null:n/e.users}function li(e){if(e===null)return`–`;let t=e*100;return t===0?`0%`:t<10?`${t.toFixed(1)}%`:`${Math.round(t)}%`}function ui(e){if(e===null)return{background:`transparent`,color:`inherit`};let t=Vn.length,n=Math.min(t-1,Math.floor(e*t));return{background:Vn[n],color:n>=3?`#ffffff`:`#111827`}}function di(e){return e===0?`Week 0`:`+${e}`}function fi(e){let t=new Date(`${e.range.from}T00:00:00Z`),n=new Date(`${e.range.to}T00:00:00Z`),r=[];(t.getUTCDay()!==1||n.getUTCDay()!==0)&&r.push(`week`);let i=new Date(Date.UTC(n.getUTCFullYear(),n.getUTCMonth()+1,0)).getUTCDate();return(t.getUTCDate()!==1||n.getUTCDate()!==i)&&r.push(`month`),r.length===0?null:`The first and last ${r.join(` and `)} are cut to the range: they count only its days.`}var pi={new:G[0],returning:G[1],day:G[0],week:G[2],month:G[3]};function mi(e){let t=e.interval===`week`?`week`:`day`,n=e.new_returning;return{textStyle:W,aria:{enabled:!0,decal:{show:!0}},legend:{top:0,left:0,textStyle:{color:K}},grid:{left:8,right:8,top:32,bottom:8,containLabel:!0},tooltip:{trigger:`axis`,formatter:e=>{let r=(Array.isArray(e)?e[0]:e).dataIndex??0,i=n[r];return i?`${U(dr(i.start,t))}<br>New <b>${V(i.new)}</b><br>Returning <b>${V(i.returning)}</b><br>Active ${V(i.active)}`:``}},xAxis:{type:`category`,data:n.map(e=>ur(e.start,t)),axisLabel:{color:K,hideOverlap:!0},axisTick:{alignWithLabel:!0}},yAxis:{type:`value`,minInterval:1,axisLabel:{color:K}},series:[{name:`New`,type:`bar`,stack:`users`,data:n.map(e=>e.new),itemStyle:{color:pi.new},barMaxWidth:28},{name:`Returning`,type:`bar`,stack:`users`,data:n.map(e=>e.returning),itemStyle:{color:pi.returning,borderRadius:[2,2,0,0]},barMaxWidth:28}]}}function hi(e){let t=e=>e.map(e=>[e.start,e.users]);return{textStyle:W,aria:{enabled:!0,decal:{show:!1}},legend:{top:0,left:0,textStyle:{color:K}},grid:{left:8,right:16,top:32,bottom:8,containLabel:!0},tooltip:{trigger:`axis`},xAxis:{type:`time`,axisLabel:{color:K,hideOverlap:!0}},yAxis:{type:`value`,minInterval:1,axisLabel:{color:K}},series:[{name:`Daily`,type:`line`,showSymbol:!1,data:t(e.active.daily),lineStyle:{width:1.5},itemStyle:{color:pi.day}},{name:`Weekly`,type:`line`,step:`end`,showSymbol:!1,data:t(e.active.weekly),lineStyle:{width:2,type:`dashed`},itemStyle:{color:pi.week}},{name:`Monthly`,type:`line`,step:`end`,showSymbol:!1,data:t(e.active.monthly),lineStyle:{width:2,type:`dotted`},itemStyle:{color:pi.month}}]}}var gi=D`<span data-users-empty>No users in this range. A user is a conversation's
  <code>customer_id</code>: pass it when the conversation is created (<code>get_or_create_conversation</code>,
  <code>open_conversation</code>).</span>`,_i=class{o;fetched=new Ne;get data(){return this.fetched.data}get error(){return this.fetched.error}get loading(){return this.fetched.loading}hosts=new rr(()=>this.o.root);lastParams={};constructor(e){this.o=e}async load(e){this.lastParams=e;let t=oi(e);await this.fetched.run(n=>We(this.o.agentId,{...e,interval:t},n))&&(this.o.redraw(),this.paint())}png(e,t){return()=>{let n=this.data;n&&this.hosts.download(e,`${this.o.title}-${t}-${n.range.from}-${n.range.to}.png`)}}view(){let e=this.data,t=()=>void this.load(this.lastParams),n=this.error??void 0,r=D`<div class="section-head"><h2 class="section-title" id="h-users">Users</h2>
      ${e&&!si(e)?D`<span class="sub" data-users-totals>${V(e.totals.users)} users: ${V(e.totals.new_users)} new,
            ${V(e.totals.returning_users)} returning</span>`:O}</div>`;if(this.loading||!e||si(e)||this.error)return D`<section class="users-section" data-section="users" aria-labelledby="h-users">
        ${r}
        <div class="grid">
          ${z({id:`users`,title:`New, returning and active users`,size:`w12`,state:this.error?`error`:this.loading&&!e?`loading`:`empty`,empty:gi,error:n,onRetry:t})}
        </div>
      </section>`;let i=fi(e);return D`<section class="users-section" data-section="users" aria-labelledby="h-users">
      ${r}
      <div class="grid">
        ${z({id:`users-new-returning`,title:`New and returning users per ${e.interval}`,sub:`new: first conversation ever`,size:`w6`,state:`ready`,empty:gi,chart:``,onPng:this.png(`users-new-returning`,`new-returning-users`)})}
        ${z({id:`users-active`,title:`Active users`,sub:`per day, week and month`,size:`w6`,state:`ready`,empty:gi,chart:``,onPng:this.png(`users-active`,`active-users`),body:D`<details class="users-months">
            <summary>Per month, as a table</summary>
            <table class="mini-table" data-table="users-monthly">
              <thead><tr><th scope="col">Month</th><th class="num" scope="col">Active users</th></tr></thead>
              <tbody>
                ${e.active.monthly.map(e=>D`<tr data-month=${e.start}><td>${dr(e.start,`month`)}</td><td class="num" data-value=${e.users}>${V(e.users)}</td></tr>`)}
              </tbody>
            </table>
          </details>`})}
        ${z({id:`users-cohorts`,title:`Weekly retention`,sub:`share of each week's new users active in the weeks after`,size:`w12`,state:e.cohorts.length===0?`empty`:`ready`,empty:gi,body:this.cohortTable(e),footer:i?D`<p class="muted users-note" data-users-clipped>${i}</p>`:O})}
      </div>
    </section>`}cohortTable(e){let t=e.cohorts.length;return D`<div class="cohort-scroll" tabindex="0" role="region" aria-label="Weekly retention table">
      <table class="mini-table cohort-table" data-table="users-cohorts">
        <thead>
          <tr>
            <th scope="col">Week</th>
            <th class="num" scope="col">New users</th>
            ${Array.from({length:t},(e,t)=>D`<th class="num" scope="col">${di(t)}</th>`)}
          </tr>
        </thead>
        <tbody>
          ${e.cohorts.map(e=>D`<tr data-week=${e.week}>
              <th scope="row">${dr(e.week,`week`).replace(/^week of /,``)}</th>
              <td class="num" data-users=${e.users}>${V(e.users)}</td>
              ${e.retained.map((t,n)=>{let r=ci(e,n),{background:i,color:a}=ui(r);return D`<td class="num cohort-cell" data-k=${n} data-retained=${t} style="background:${i};color:${a}"
                  title=${r===null?`no new users this week`:`${V(t)} of ${V(e.users)}`}>${li(r)}</td>`})}
            </tr>`)}
        </tbody>
      </table>
    </div>`}host(e){return this.hosts.get(e)}paint(){let e=this.data;e&&!si(e)&&(this.host(`users-new-returning`)?.set(mi(e)),this.host(`users-active`)?.set(hi(e)))}dispose(){this.fetched.stop(),this.hosts.dispose()}},vi=`https://docs.agentsight.io`;function J(...e){return D`<span>${e}</span>`}var Y={daily:J(`No messages or conversations in this range. Point the SDK at this server (`,D`<code>AGENTSIGHT_API_ENDPOINT</code>`,`), call `,D`<code>tracker.track_human_message("…")</code>`,` and `,D`<code>tracker.send_tracked_data()</code>`,`, or pick a wider range.`),heatmap:J(`No messages in this range: peak hours fill in as `,D`<code>track_human_message</code>`,` / `,D`<code>track_agent_message</code>`,` calls arrive.`),tools:J(`No tool calls in this range. Log them with `,D`<code>tracker.track_action("search", duration_ms=120)</code>`,`.`),map:J(`No geolocated conversations. Pass `,D`<code>customer_ip_address=…</code>`,` to `,D`<code>get_or_create_conversation</code>`,` and start the server with the geolocation data (`,D`<code>scripts/fetch-geo.sh</code>`,`).`),devices:J(`No conversations in this range. Pass `,D`<code>device="mobile"</code>`,` (desktop, tablet, mobile) to `,D`<code>get_or_create_conversation</code>`,`.`),sources:J(`No conversations in this range. Pass `,D`<code>source="web"</code>`,` (web, whatsapp, …) to `,D`<code>get_or_create_conversation</code>`,`.`),languages:J(`No conversations in this range. Pass `,D`<code>language="en"</code>`,` to `,D`<code>get_or_create_conversation</code>`,`.`),feedback:J(`No feedback in this range. Send it with `,D`<code>conversation_manager.submit_feedback(cid, "positive")</code>`,` or a `,D`<code>metadata={"feedback": 5}</code>`,` rating on the conversation.`)};function yi(e,t,n){let r=bn(new URLSearchParams(location.search)),i=null,a=null,o=!0,s=null,c=``,l=null,u,d=0,f=new rr(()=>e,e=>y(e)),p=new Nr(n.agentId,{onUpdate:()=>x(),onChange:()=>E()}),m=n.agentId,h=new ai({root:e,agentId:m,transcriptHref:m===null?null:e=>N.transcript(m,e),redraw:()=>E(),title:n.title}),g=new _i({root:e,agentId:m,redraw:()=>E(),title:n.title}),_=new qr({agentId:m,listHref:m===null?null:e=>N.conversations(m,e),transcriptHref:m===null?null:e=>N.transcript(m,e),state:()=>r,redraw:()=>E()}),v=e=>{let r=Cn(e).toString();t.navigate(n.path+(r?`?${r}`:``))},y=e=>v(wn(r,e.key,e.value));async function b(){let e=kn(r,new Date,L());c=JSON.stringify(e),l?.abort();let t=new AbortController;l=t,d=Date.now(),h.load(e),_.load(e),g.load(e),i||(o=!0),E();try{let r=sr(e),o=i=>Ve(n.agentId,{...e,metric:i,interval:r},t.signal),[c,l]=await Promise.all([Be(n.agentId,e,t.signal),r===`day`?Promise.resolve(null):Promise.all([o(`messages`),o(`conversations`)]).catch(()=>null)]);if(t.signal.aborted)return;i=c,a=l?{grain:r,rows:fr(l[0].points,l[1].points),previous:l[0].previous&&l[1].previous?fr(l[0].previous.points,l[1].previous.points):null}:{grain:`day`,rows:c.daily,previous:c.previous?.daily??null},s=null}catch(e){if(Me(e))return;s=e instanceof A?e.message:String(e),i=null}finally{t.signal.aborted||(o=!1,E(),te())}}function x(){if(u!==void 0)return;let e=Math.max(0,1500-(Date.now()-d));u=window.setTimeout(()=>{u=void 0,b()},e)}function S(e){return o&&!i?`loading`:s?`error`:i?e?`empty`:`ready`:`loading`}function C(e,t){return()=>{f.download(e,`${n.title}-${t}-${i?.range.from??``}-${i?.range.to??``}.png`)}}function w(e,t,n,r=6){return D`<table class="mini-table" data-table=${e}>
      <thead><tr><th scope="col">${e===`country`?`Country`:`Value`}</th><th class="num" scope="col">Conversations</th><th class="num" scope="col">Share</th></tr></thead>
      <tbody>
        ${t.slice(0,r).map(t=>D`<tr data-value=${Dn(t.value)}>
            <td><button class="filter" type="button" title="Filter on this"
              @click=${()=>y({key:e,value:Dn(t.value)})}>${Kt(e,t.value)}</button></td>
            <td class="num" data-count=${t.conversations}>${V(t.conversations)}</td>
            <td class="num">${n>0?H(t.conversations/n):`–`}</td>
          </tr>`)}
      </tbody>
    </table>`}function T(){let e=i,t=()=>void b(),c=s??void 0,l=e?.total_conversations??0,u=e?{source:e.sources.flatMap(e=>e.source?[e.source]:[]),language:e.languages.flatMap(e=>e.language?[e.language]:[]),country:e.countries.flatMap(e=>e.country?[e.country]:[]),device:[`desktop`,`tablet`,`mobile`]}:{},d=e?Rr(e):null,f=gn.find(e=>e.value===r.compare)?.short??``,m=a,y=o&&!e?`loading`:s?`error`:`ready`,x=e?e.countries.reduce((e,t)=>e+t.conversations,0):0;return D`${n.header()}
      <main id="main" tabindex="-1">
        <div class="page-head">
          <h1>${n.title}</h1>
          ${n.note??O}
          ${Pr(p)}
        </div>
        ${Mn({state:r,compare:!0,environments:n.environments,suggestions:u,go:v})}
        ${s?D`<div class="form-error" role="alert" data-error="overview">Could not load the overview: ${s} <button class="btn small" @click=${t}>Retry</button></div>`:O}
        <section class="kpis" aria-label="Key figures">
          ${(d??bi()).map(e=>D`<div class="kpi" data-kpi=${e.id} data-value=${e.raw===null?``:String(e.raw)} data-state=${y}
              title=${e.raw===null?``:V(e.raw)}>
              <div class="label">${e.label}</div>
              <div class="value">${y===`ready`?e.value:y===`loading`?`…`:`–`}</div>
              ${y===`ready`&&e.change?D`<div class="change ${e.change.verdict}" data-change=${e.change.direction} data-verdict=${e.change.verdict}
                    title=${e.change.label}>
                    <span aria-hidden="true">${e.change.text}</span>
                    <span class="sr-only">${e.change.label}</span>
                    <span class="vs" aria-hidden="true">${f}</span>
                  </div>`:O}
              <div class="note">${y===`ready`?e.note:``}</div>
            </div>`)}
        </section>
        <div class="grid">
          ${z({id:`daily`,title:cr(m?.grain??`day`),sub:e?.previous&&r.overlay?`dashed: the compared days, ${e.previous.range.from} – ${e.previous.range.to}`:void 0,actions:r.compare?D`<button class="btn small" type="button" data-overlay aria-pressed=${r.overlay?`true`:`false`}
                  title="Draw the compared range over this one" @click=${()=>v({...r,overlay:!r.overlay})}>
                  Overlay ${r.compare===`year`?`a year earlier`:`previous`}</button>`:O,size:`w8`,state:S(!e||gr(e.daily)&&!(r.overlay&&e.previous&&!gr(e.previous.daily))),empty:Y.daily,error:c,onRetry:t,chart:`tall`,onPng:C(`daily`,`daily`)})}
          ${z({id:`feedback`,title:`Feedback`,size:`w4`,state:S(!e||e.feedback.total===0),empty:Y.feedback,error:c,onRetry:t,chart:``,onPng:C(`feedback`,`feedback`),body:e?D`<div class="fb-summary" data-feedback>
                  <span>Positive <b data-count="positive">${V(e.feedback.positive)}</b></span>
                  <span>Neutral <b data-count="neutral">${V(e.feedback.neutral)}</b></span>
                  <span>Negative <b data-count="negative">${V(e.feedback.negative)}</b></span>
                  <span>Satisfaction <b>${H(e.feedback.satisfaction_rate)}</b></span>
                  ${e.feedback.ratings.count>0?D`<span>Rating <b>${Fn(e.feedback.ratings.average)}</b> (${V(e.feedback.ratings.count)})</span>`:O}
                </div>`:O})}
          ${z({id:`heatmap`,title:`Peak hours`,sub:e?`messages by weekday and hour, ${e.range.tz}`:void 0,size:`w8`,state:S(!e||Sr(e.peak_hours)),empty:Y.heatmap,error:c,onRetry:t,chart:`fill`,onPng:C(`heatmap`,`peak-hours`)})}
          ${z({id:`tools`,title:`Tool usage`,size:`w4`,state:S(!e||e.tools.length===0),empty:Y.tools,error:c,onRetry:t,chart:``,onPng:C(`tools`,`tools`),body:e?D`<table class="mini-table" data-table="tools">
                  <thead><tr><th scope="col">Tool</th><th class="num" scope="col">Calls</th><th class="num" scope="col">Avg</th><th class="num" scope="col">Errors</th></tr></thead>
                  <tbody>
                    ${e.tools.slice(0,8).map(e=>D`<tr data-tool=${e.name}>
                        <td>${e.name}</td>
                        <td class="num" data-calls=${e.calls}>${V(e.calls)}</td>
                        <td class="num">${Pn(e.avg_duration_ms)}</td>
                        <td class="num ${e.errors>0?`bad`:``}" data-errors=${e.errors}
                          title=${`${H(Ar(e))} of calls`}>${V(e.errors)}</td>
                      </tr>`)}
                  </tbody>
                </table>`:O})}
          ${z({id:`map`,title:`Where conversations come from`,sub:e&&x>0?`${B(e.countries.filter(e=>e.country).length)} countries`:void 0,size:`w8`,state:S(!e||Or(e.countries)),empty:Y.map,error:c,onRetry:t,chart:`map`,onPng:C(`map`,`map`),footer:D`<div class="attribution"><a href="https://db-ip.com" target="_blank" rel="noopener">IP Geolocation by DB-IP</a></div>`})}
          ${z({id:`countries`,title:`Countries`,size:`w4`,state:S(!e||e.countries.length===0),empty:Y.map,error:c,onRetry:t,body:e?w(`country`,q(e.countries,`country`),l,10):O})}
          ${z({id:`devices`,title:`Devices`,size:`w4`,state:S(!e||Jn(q(e.devices,`device`))),empty:Y.devices,error:c,onRetry:t,chart:``,onPng:C(`devices`,`devices`),body:e?w(`device`,q(e.devices,`device`),l):O})}
          ${z({id:`sources`,title:`Sources`,size:`w4`,state:S(!e||Jn(q(e.sources,`source`))),empty:Y.sources,error:c,onRetry:t,chart:``,onPng:C(`sources`,`sources`),body:e?w(`source`,q(e.sources,`source`),l):O})}
          ${z({id:`languages`,title:`Languages`,size:`w4`,state:S(!e||Jn(q(e.languages,`language`))),empty:Y.languages,error:c,onRetry:t,chart:``,onPng:C(`languages`,`languages`),body:e?w(`language`,q(e.languages,`language`),l):O})}
        </div>
        ${_.view()}
        ${g.view()}
        ${h.view()}
        <p class="muted" style="font-size:0.8rem;margin-top:16px">
          Numbers follow the definitions in the project's docs/metrics.md. Times in ${i?.range.tz??r.tz??L()}.
          <a href=${vi} target="_blank" rel="noopener">SDK documentation</a>
        </p>
      </main>`}function E(){document.title=`${n.title} · Overview · AgentSight`,k(T(),e)}let ee=e=>f.get(e);async function te(){let t=i;if(!t)return;let n=(e,t,n)=>{t||ee(e)?.set(n())},o=a,s=r.overlay&&o?.previous?o.previous:void 0;if(n(`daily`,gr(t.daily)&&!(s&&!gr(s)),()=>o?mr(o.rows,o.grain,s):mr(t.daily)),n(`heatmap`,Sr(t.peak_hours),()=>xr(t.peak_hours)),n(`tools`,t.tools.length===0,()=>kr(t.tools)),n(`feedback`,t.feedback.total===0,()=>vr(t.feedback)),n(`devices`,Jn(q(t.devices,`device`)),()=>Kn(`device`,q(t.devices,`device`))),n(`sources`,Jn(q(t.sources,`source`)),()=>qn(`source`,q(t.sources,`source`))),n(`languages`,Jn(q(t.languages,`language`)),()=>qn(`language`,q(t.languages,`language`))),!Or(t.countries)){await ar();let r=(e.querySelector(`[data-chart="map"]`)?.clientWidth??1e3)<520;i===t&&n(`map`,!1,()=>Dr(t.countries,t.cities,r))}}return E(),b(),p.start(),{update(){r=bn(new URLSearchParams(location.search)),JSON.stringify(kn(r,new Date,L()))===c?(E(),te()):b()},dispose(){l?.abort(),p.stop(),h.dispose(),_.dispose(),g.dispose(),window.clearTimeout(u),f.dispose()}}}function bi(){return[`Total messages`,`Total conversations`,`Unique users`,`Unique interactions`,`Avg bot response time`,`Avg conversation duration`,`Human escalation rate`,`Satisfaction`].map((e,t)=>({id:`kpi-${t}`,label:e,value:``,raw:null,note:``,change:null}))}var xi=e=>e instanceof A||e instanceof Error?e.message:String(e),Si=[`monday`,`tuesday`,`wednesday`,`thursday`,`friday`,`saturday`,`sunday`],Ci=e=>e.charAt(0).toUpperCase()+e.slice(1),wi=e=>`${String(e).padStart(2,`0`)}:00`;function Ti(e){let t=`at ${wi(e.hour)} (${e.time_zone})`;if(e.cadence===`monthly`){let n=e.day_of_month??1;return`Monthly on day ${n}${n>28?`, or the month's last day when shorter`:``}, ${t}`}return`Every ${Ci(e.weekday??`monday`)} ${t}`}function Ei(e){return e.split(/[\s,;]+/).map(e=>e.trim().toLowerCase()).filter((e,t,n)=>e!==``&&n.indexOf(e)===t)}function Di(e){let t=e=>/^-?\d+$/.test(e.trim())?Number(e.trim()):NaN,n={cadence:e.cadence,hour:t(e.hour),time_zone:e.time_zone.trim(),recipients:Ei(e.recipients)};return e.cadence===`monthly`?n.day_of_month=t(e.day_of_month):n.weekday=e.weekday,n}function Oi(e){let t={},n=Di(e);if((!Number.isInteger(n.hour)||n.hour<0||n.hour>23)&&(t.hour=`An hour from 0 to 23.`),e.cadence===`monthly`){let e=n.day_of_month;(!Number.isInteger(e)||e<1||e>31)&&(t.day_of_month=`A day from 1 to 31.`)}let r=n.recipients??[];return r.length===0?t.recipients=`Give at least one e-mail address.`:r.length>20&&(t.recipients=`At most 20 addresses.`),n.time_zone||(t.time_zone=`Give a time zone, such as Europe/Zagreb.`),t}function ki(e){let t=e.attempts&&e.attempts>1?` (${e.attempts} attempts)`:``;return e.state===`sent`?{text:`sent`,tone:`ok`}:e.state===`failed`?{text:`failed${t}`,tone:`bad`}:{text:`sending${t}`,tone:`warn`}}function Ai(e){let t=e.filter(e=>e.status!==`sent`);return e.length===0?{text:`The schedule has no recipients.`,ok:!1}:t.length===0?{text:`Test report sent to ${e.map(e=>e.recipient).join(`, `)}.`,ok:!0}:{text:`Test report not delivered to ${t.map(e=>`${e.recipient}: ${e.status}${e.last_error?` (${e.last_error})`:``}`).join(`; `)}`,ok:!1}}function ji(){let e=Intl;try{return e.supportedValuesOf?.(`timeZone`)??[]}catch{return[]}}function Mi(e,t,n){let r=null,i=new Map,a=null,o=null,s=null,c=`weekly`,l=null,u=null,d=L();async function f(){try{r=await pt(t);let e=await Promise.all(r.map(e=>_t(e.id)));i.clear(),r.forEach((t,n)=>i.set(t.id,e[n]??[])),l=null}catch(e){l=xi(e)}n()}async function p(r){r.preventDefault();let i=r.target,a=e=>i.elements.namedItem(e)?.value??``,o={cadence:a(`cadence`),weekday:a(`weekday`),day_of_month:a(`day_of_month`),hour:a(`hour`),time_zone:a(`time_zone`),recipients:a(`recipients`)},s=Oi(o);if(Object.keys(s).length)u=Object.entries(s).map(([e,t])=>`${e}: ${t}`).join(`; `),n();else try{await mt(t,Di(o)),u=null,i.reset(),c=`weekly`,e.toast(`Report scheduled.`),await f()}catch(e){u=xi(e),n()}}async function m(t){try{await ht(t.id,{enabled:!t.enabled}),e.toast(t.enabled?`Report turned off.`:`Report turned on.`),await f()}catch(t){e.toast(xi(t),`error`)}}async function h(t){if(window.confirm(`Delete this report to ${t.recipients.join(`, `)}?`))try{await gt(t.id),a?.id===t.id&&(a=null),e.toast(`Report deleted.`),await f()}catch(t){e.toast(xi(t),`error`)}}async function g(e){try{a={id:e.id,report:await vt(e.id)},l=null}catch(e){l=xi(e)}n()}async function _(t,r){t.preventDefault();let i=t.target.elements.namedItem(`to`).value.trim();try{let t=Ai(await yt(r.id,i||void 0));s={id:r.id,...t},e.toast(t.text,t.ok?`ok`:`error`)}catch(e){s={id:r.id,text:xi(e),ok:!1}}n()}function v(e){return D`<form class="row" data-form="report-test" style="margin:6px 0" @submit=${t=>void _(t,e)}>
      <div class="field"><label for="rt-${e.id}">Send the latest report now to</label>
        <input id="rt-${e.id}" name="to" type="email" placeholder=${e.recipients.join(`, `)} /></div>
      <button class="btn small primary" type="submit">Send</button>
      <button class="btn small" type="button" @click=${()=>{o=null,n()}}>Cancel</button>
    </form>`}function y(e){return e.length===0?D`<p class="muted" style="margin:4px 0 0">Nothing sent yet.</p>`:D`<table class="list" data-table="report-sends" style="margin-top:6px">
      <thead><tr><th scope="col">Period</th><th scope="col">Outcome</th><th scope="col">When</th><th scope="col">Error</th></tr></thead>
      <tbody>
        ${e.map(e=>{let t=ki(e),n=e.sent_at??e.attempted_at;return D`<tr data-send=${e.period} class=${t.tone===`bad`?`failed`:``}>
            <td>${e.period_label||e.period}</td>
            <td><span class="badge ${t.tone}">${t.text}</span></td>
            <td>${n?R(n,d):`–`}</td>
            <td>${e.error?D`<span class="form-error">${e.error}</span>`:D`<span class="muted">–</span>`}</td>
          </tr>`})}
      </tbody>
    </table>`}function b(e){let t=i.get(e.id)??[],r=t.some(e=>e.state===`failed`);return D`<tr data-report=${e.id}>
        <td>${Ti(e)}<div class="muted" style="font-size:0.85rem">next: ${R(e.next_send_at,d)} (${e.next_period})</div></td>
        <td>${e.recipients.join(`, `)}</td>
        <td>${e.enabled?D`<span class="badge ok">on</span>`:D`<span class="badge">off</span>`}
          ${r?D` <span class="badge bad">failed sends</span>`:O}
          ${e.share_url?O:D` <span class="badge warn">no dashboard link</span>`}</td>
        <td style="white-space:nowrap">
          <button class="btn small" @click=${()=>void g(e)}>Preview</button>
          <button class="btn small" @click=${()=>{o=o===e.id?null:e.id,s=null,n()}}>Send test</button>
          <button class="btn small" @click=${()=>void m(e)}>${e.enabled?`Turn off`:`Turn on`}</button>
          <button class="btn small danger" @click=${()=>void h(e)}>Delete</button>
        </td>
      </tr>
      <tr data-report-sends=${e.id}><td colspan="4">
        ${o===e.id?v(e):O}
        ${s?.id===e.id?D`<div data-report-test-outcome class=${s.ok?`muted`:`form-error`} role="status">${s.text}</div>`:O}
        ${y(t)}</td></tr>`}function x(){let e=ji();return D`<section class="card" aria-labelledby="h-reports">
      <h2 id="h-reports">Client reports</h2>
      <p class="muted">A mail with this agent's KPIs, a daily chart and the top lists, in its white-label, weekly or
        monthly, with a link to a share dashboard made for it. Sending needs the server's mail settings.</p>
      ${l?D`<div class="form-error" role="alert">${l}</div>`:O}
      ${r?r.length===0?D`<p class="muted">No reports scheduled.</p>`:D`<div class="table-wrap"><table class="list" data-table="reports">
              <thead><tr><th scope="col">When</th><th scope="col">To</th><th scope="col">State</th><th scope="col"></th></tr></thead>
              <tbody>${r.map(b)}</tbody>
            </table></div>`:D`<p class="muted">Loading…</p>`}
      ${a?D`<div data-report-preview style="margin-top:12px">
            <div class="row" style="justify-content:space-between">
              <b>${a.report.subject}</b>
              <button class="btn small" @click=${()=>{a=null,n()}}>Close preview</button>
            </div>
            <iframe title="Report preview" sandbox="" style="width:100%;max-width:720px;height:900px;border:1px solid #e5e7eb;background:#fff;margin-top:8px"
              srcdoc=${a.report.html}></iframe>
          </div>`:O}
      <h3>Schedule a report</h3>
      <form data-form="new-report" @submit=${e=>void p(e)}>
        <div class="row" style="margin-bottom:12px">
          <div class="field"><label for="r-cadence">Every</label>
            <select id="r-cadence" name="cadence" @change=${e=>{c=e.target.value,n()}}>
              <option value="weekly" ?selected=${c===`weekly`}>week</option>
              <option value="monthly" ?selected=${c===`monthly`}>month</option>
            </select></div>
          ${c===`weekly`?D`<div class="field"><label for="r-weekday">On</label>
                <select id="r-weekday" name="weekday">${Si.map(e=>D`<option value=${e}>${Ci(e)}</option>`)}</select></div>`:D`<div class="field"><label for="r-day">Day of the month</label>
                <input id="r-day" name="day_of_month" type="number" min="1" max="31" step="1" value="1" required /></div>`}
          <div class="field"><label for="r-hour">Hour</label>
            <input id="r-hour" name="hour" type="number" min="0" max="23" step="1" value="8" required /></div>
          <div class="field"><label for="r-tz">Time zone</label>
            <input id="r-tz" name="time_zone" type="text" list="r-tz-list" value=${d} required />
            <datalist id="r-tz-list">${e.map(e=>D`<option value=${e}></option>`)}</datalist></div>
        </div>
        <div class="field"><label for="r-to">Recipients (up to ${20}, separated by commas or lines)</label>
          <textarea id="r-to" name="recipients" rows="2" required placeholder="client@example.com"></textarea></div>
        <button class="btn primary" type="submit">Schedule report</button>
      </form>
      ${u?D`<div class="form-error" role="alert" style="margin-top:8px">${u}</div>`:O}
    </section>`}return{load:f,view:x}}var Ni=e=>e instanceof A||e instanceof Error?e.message:String(e),Pi=262144;function Fi(e){return e.split(/[\n,]/).map(e=>e.trim()).filter((e,t,n)=>e!==``&&n.indexOf(e)===t)}var Ii=36500;function Li(e){let t=e.trim();if(!/^\d+$/.test(t))return{error:`Enter a whole number of days.`};let n=Number(t);return n<1||n>36500?{error:`Between 1 and ${Ii} days.`}:{days:n}}function Ri(e){if(e===`retention`)return`retention job`;if(e===`cli`)return`command line`;let[t,n]=e.split(`:`);return t===`key`&&n?`API key #${n}`:t===`user`&&n?`user #${n}`:e}function zi(e,t,n){let r=null,i=null,a=null,o=null,s=null,c={},l=()=>t.agents.find(e=>e.id===n),u=L(),d=Mi(t,n,()=>w());async function f(){try{[r,i,a]=await Promise.all([rt(n),ut(n),nt(n)]),c.lists=null}catch(e){c.lists=Ni(e)}w()}async function p(e,r,i){try{await tt(n,r),c[e]=null,await t.refreshAgents(),t.toast(i)}catch(t){c[e]=Ni(t)}w()}let m=(e,t)=>e.elements.namedItem(t).value;async function h(e){e.preventDefault();let t=e.target,n=m(t,`display_name`).trim(),r=t.elements.namedItem(`use_accent`).checked,i={display_name:n===``?null:n,accent_color:r?m(t,`accent_color`):null},a=t.elements.namedItem(`logo`).files?.[0];if(a){if(a.size>Pi){c.branding=`The logo is ${Math.round(a.size/1024)} KiB; at most 256 KiB.`,w();return}i.logo=await Bi(a)}await p(`branding`,{branding:i},`Branding saved.`)}async function g(e){e.preventDefault();let t=Li(m(e.target,`days`));`error`in t?(c.retention=t.error,w()):await p(`retention`,{retention_days:t.days},`Conversations are kept ${t.days} days.`)}async function _(e){try{o=await it(n,e),c.keys=null,await f()}catch(e){c.keys=Ni(e),w()}}async function v(e){if(window.confirm(`Revoke the key ${e.prefix}…? Apps using it stop working within a second.`))try{await at(e.id),t.toast(`Key ${e.prefix} revoked.`),o?.id===e.id&&(o=null),await f()}catch(e){t.toast(Ni(e),`error`)}}async function y(e){e.preventDefault();let t=e.target,r=m(t,`label`).trim(),i=m(t,`expires`);try{s=await dt(n,{label:r===``?null:r,expires_at:i?new Date(i).toISOString():null}),c.shares=null,t.reset(),await f()}catch(e){c.shares=Ni(e),w()}}async function b(e){if(window.confirm(`Revoke the share link ${e.label??e.token_prefix}? It stops working at once.`))try{await ft(e.id),t.toast(`Share link revoked.`),await f()}catch(e){t.toast(Ni(e),`error`)}}let x=e=>c[e]?D`<div class="form-error" role="alert" style="margin-top:8px">${c[e]}</div>`:O,S=e=>()=>{navigator.clipboard?.writeText(e).then(()=>t.toast(`Copied.`),()=>t.toast(`Copy failed: select the text and copy it.`,`error`))};function C(){let e=l();if(!e)return D`${F(t,null,`settings`)}<main id="main"><div class="card"><p>No such agent.</p>
        <a href=${N.settings()}>Back to settings</a></div></main>`;let n=e.branding,c=xt(n),f=s?new URL(s.url,location.origin).toString():``;return D`${F(t,null,`settings`)}
      <main id="main" tabindex="-1">
        <p><a href=${N.settings()}>← Settings</a></p>
        <div class="page-head"><h1>${P(e)}</h1><span class="sub">agent #${e.id} · <a href=${N.overview(e.id)}>overview</a></span></div>

        <section class="card" aria-labelledby="h-name">
          <h2 id="h-name">Name</h2>
          <form class="row" @submit=${e=>{e.preventDefault(),p(`name`,{name:m(e.target,`name`).trim()},`Renamed.`)}}>
            <div class="field"><label for="agent-name">Name</label>
              <input id="agent-name" name="name" type="text" maxlength="255" required .value=${e.name} /></div>
            <button class="btn primary" type="submit">Rename</button>
          </form>
          ${x(`name`)}
        </section>

        <section class="card" aria-labelledby="h-esc">
          <h2 id="h-esc">Human escalation</h2>
          <p class="muted">A conversation counts as escalated when it has an action with one of these names.
            ${e.escalation_tools_default?`This is the default list.`:`This agent has its own list.`}</p>
          <form @submit=${e=>{e.preventDefault(),p(`esc`,{escalation_tools:Fi(m(e.target,`tools`))},`Escalation tools saved.`)}}>
            <div class="field"><label for="esc-tools">Tool names, one per line</label>
              <textarea id="esc-tools" name="tools" rows="4" .value=${e.escalation_tools.join(`
`)}></textarea></div>
            <button class="btn primary" type="submit">Save</button>
            <button class="btn" type="button" ?disabled=${e.escalation_tools_default}
              @click=${()=>void p(`esc`,{escalation_tools:null},`Default list restored.`)}>Restore default</button>
          </form>
          ${x(`esc`)}
        </section>

        <section class="card" aria-labelledby="h-retention">
          <h2 id="h-retention">Retention</h2>
          <p class="muted">${e.retention_days===null?`Conversations are kept for ever.`:`Conversations are removed, with everything in them, ${e.retention_days} days after their last event.`}
            The server checks every few minutes.</p>
          <form class="row" @submit=${e=>void g(e)}>
            <div class="field"><label for="ret-days">Keep for (days)</label>
              <input id="ret-days" name="days" type="number" min="1" max=${Ii} step="1" required
                .value=${e.retention_days===null?``:String(e.retention_days)} /></div>
            <button class="btn primary" type="submit">Save</button>
            <button class="btn" type="button" ?disabled=${e.retention_days===null}
              @click=${()=>void p(`retention`,{retention_days:null},`Conversations are kept for ever.`)}>Keep for ever</button>
          </form>
          ${x(`retention`)}
          <h3 style="margin-top:16px">Removals</h3>
          ${a?a.length===0?D`<p class="muted">Nothing removed yet.</p>`:D`<div class="table-wrap"><table class="list" data-table="erasures">
                  <thead><tr><th scope="col">When</th><th scope="col">Why</th><th scope="col">By</th><th scope="col">Conversations</th><th scope="col" class="hide-sm">Messages</th></tr></thead>
                  <tbody>
                    ${a.map(e=>D`<tr data-erasure=${e.id}>
                        <td>${R(e.at,u)}</td>
                        <td>${e.kind===`erase`?`customer's erase`:`retention`}</td>
                        <td>${Ri(e.actor)}</td>
                        <td>${e.conversations}</td><td class="hide-sm">${e.messages}</td>
                      </tr>`)}
                  </tbody>
                </table></div>`:D`<p class="muted">Loading…</p>`}
        </section>

        <section class="card" aria-labelledby="h-brand">
          <h2 id="h-brand">White-label</h2>
          <p class="muted">Shown to this agent's viewers and on its share links.</p>
          <form @submit=${e=>void h(e)}>
            <div class="row" style="margin-bottom:12px">
              <div class="field"><label for="b-name">Display name</label>
                <input id="b-name" name="display_name" type="text" maxlength="100" .value=${n.display_name??``} placeholder=${e.name} /></div>
              <div class="field"><label for="b-accent">Accent colour</label>
                <span class="row"><input id="b-accent" name="accent_color" type="color" .value=${n.accent_color??`#0072b2`} />
                <label class="check"><input type="checkbox" name="use_accent" .checked=${n.accent_color!==null} /> use it</label></span></div>
              <div class="field"><label for="b-logo">Logo (PNG, JPEG, WebP or SVG, ≤ 256 KiB)</label>
                <input id="b-logo" name="logo" type="file" accept="image/png,image/jpeg,image/webp,image/svg+xml" /></div>
              ${c?D`<div class="field"><span class="muted" style="font-size:0.85rem">Current logo</span><img class="logo-preview" src=${c} alt="Current logo" /></div>`:O}
            </div>
            <button class="btn primary" type="submit">Save branding</button>
            ${c?D`<button class="btn" type="button" @click=${()=>void p(`branding`,{branding:{logo:null}},`Logo removed.`)}>Remove logo</button>`:O}
          </form>
          ${x(`branding`)}
        </section>

        <section class="card" aria-labelledby="h-keys">
          <h2 id="h-keys">API keys</h2>
          <p class="muted">Write keys send data with the SDK; read keys only read. Keys are stored hashed: a new key is shown once.</p>
          ${o?D`<div class="notice" data-new-key>
                <b>New ${o.role} key — copy it now, it is not shown again:</b>
                <div class="secret"><code data-secret>${o.key}</code><button class="btn small" @click=${S(o.key)}>Copy</button>
                  <button class="btn small" @click=${()=>{o=null,w()}}>Done</button></div>
              </div>`:O}
          ${r?D`<div class="table-wrap"><table class="list" data-table="keys">
                <thead><tr><th scope="col">Key</th><th scope="col">Role</th><th scope="col" class="hide-sm">Created</th><th scope="col">State</th><th scope="col"></th></tr></thead>
                <tbody>
                  ${r.map(e=>D`<tr data-key=${e.id}>
                      <td class="mono">${e.prefix}…</td><td>${e.role}</td>
                      <td class="hide-sm">${R(e.created_at,u)}</td>
                      <td>${e.revoked_at?D`<span class="badge bad">revoked</span>`:D`<span class="badge ok">active</span>`}</td>
                      <td>${e.revoked_at?O:D`<button class="btn small danger" @click=${()=>void v(e)}>Revoke</button>`}</td>
                    </tr>`)}
                </tbody>
              </table></div>`:D`<p class="muted">Loading…</p>`}
          <div class="row" style="margin-top:10px">
            <button class="btn primary" @click=${()=>void _(`write`)}>New write key</button>
            <button class="btn" @click=${()=>void _(`read`)}>New read key</button>
          </div>
          ${x(`keys`)}${x(`lists`)}
        </section>

        <section class="card" aria-labelledby="h-shares">
          <h2 id="h-shares">Share links</h2>
          <p class="muted">A share link shows this agent's overview, read-only, to anyone who has it — no account, no transcripts.</p>
          ${s?D`<div class="notice" data-new-share>
                <b>New share link — copy it now, it is not shown again:</b>
                <div class="secret"><code data-share-url>${f}</code><button class="btn small" @click=${S(f)}>Copy</button>
                  <a class="btn small" href=${s.url} target="_blank" rel="noopener">Open</a>
                  <button class="btn small" @click=${()=>{s=null,w()}}>Done</button></div>
              </div>`:O}
          ${i?i.length===0?D`<p class="muted">No share links yet.</p>`:D`<div class="table-wrap"><table class="list" data-table="shares">
                  <thead><tr><th scope="col">Label</th><th scope="col" class="hide-sm">Token</th><th scope="col">Expires</th><th scope="col">State</th><th scope="col"></th></tr></thead>
                  <tbody>
                    ${i.map(e=>{let t=e.expires_at!==null&&Date.parse(e.expires_at)<=Date.now();return D`<tr data-share=${e.id}>
                        <td>${e.label??D`<span class="muted">–</span>`}</td>
                        <td class="mono hide-sm">${e.token_prefix}…</td>
                        <td>${e.expires_at?R(e.expires_at,u):`never`}</td>
                        <td>${e.revoked_at?D`<span class="badge bad">revoked</span>`:t?D`<span class="badge warn">expired</span>`:D`<span class="badge ok">active</span>`}</td>
                        <td>${e.revoked_at?O:D`<button class="btn small danger" @click=${()=>void b(e)}>Revoke</button>`}</td>
                      </tr>`})}
                  </tbody>
                </table></div>`:D`<p class="muted">Loading…</p>`}
          <form class="row" style="margin-top:10px" @submit=${e=>void y(e)}>
            <div class="field"><label for="s-label">Label</label><input id="s-label" name="label" type="text" maxlength="100" placeholder="Acme Inc." /></div>
            <div class="field"><label for="s-exp">Expires (optional)</label><input id="s-exp" name="expires" type="datetime-local" /></div>
            <button class="btn primary" type="submit">Create share link</button>
          </form>
          ${x(`shares`)}
        </section>

        ${d.view()}
      </main>`}function w(){document.title=`${l()?.name??`Agent`} · Settings · AgentSight`,k(C(),e)}return w(),f(),d.load(),{update:w,dispose:()=>void 0}}function Bi(e){return new Promise((t,n)=>{let r=new FileReader;r.onload=()=>t(String(r.result)),r.onerror=()=>n(r.error??Error(`could not read the file`)),r.readAsDataURL(e)})}var Vi=e=>e instanceof A||e instanceof Error?e.message:String(e);function Hi(e,t){let n=null,r=null,i=null,a=null,o=null,s=null;async function c(){try{n=await ot(),r=null}catch(e){r=Vi(e)}v()}async function l(e){e.preventDefault();let n=e.target.elements.namedItem(`name`);try{let e=await et(n.value.trim());i=null,n.value=``,await t.refreshAgents(),t.toast(`Agent ${e.name} created.`)}catch(e){i=Vi(e)}v()}function u(e){return Array.from(e.querySelectorAll(`input[name="agents"]:checked`)).map(e=>Number(e.value))}async function d(e){e.preventDefault();let n=e.target,r=e=>n.elements.namedItem(e).value;try{let e=await st({email:r(`email`).trim(),password:r(`password`),role:r(`role`),agents:u(n)});a=null,n.reset(),t.toast(`User ${e.email} created.`),await c()}catch(e){a=Vi(e),v()}}async function f(e,n){e.preventDefault();let r=e.target,i=r.elements.namedItem(`role`).value;try{await ct(n.id,{role:i,agents:u(r)}),s=null,a=null,t.toast(`Saved ${n.email}.`),await c()}catch(e){a=Vi(e),v()}}async function p(e){if(window.confirm(`Delete the user ${e.email}? Their sessions end at once.`))try{await lt(e.id),t.toast(`Deleted ${e.email}.`),await c()}catch(e){t.toast(Vi(e),`error`)}}async function m(e){e.preventDefault();let n=e.target,r=e=>n.elements.namedItem(e).value;if(r(`new_password`)!==r(`new_password2`))o=`The new passwords differ.`,v();else{try{await Re(r(`current_password`),r(`new_password`)),o=null,n.reset(),t.toast(`Password changed; your other sessions were signed out.`)}catch(e){o=Vi(e)}v()}}let h=e=>D`<fieldset class="field" style="border:none;padding:0;margin:0 0 12px">
    <legend class="muted" style="font-size:0.9rem">Agents (for viewers)</legend>
    ${t.agents.length===0?D`<span class="muted">No agents yet.</span>`:O}
    ${t.agents.map(t=>D`<label class="check" style="margin-right:12px"><input type="checkbox" name="agents" value=${t.id} ?checked=${e.includes(t.id)} />
        ${P(t)}</label>`)}
  </fieldset>`;function g(e){let n=t.session?.user.id===e.id;return s===e.id?D`<tr data-user=${e.id}><td colspan="4">
        <form @submit=${t=>void f(t,e)}>
          <b>${e.email}</b>
          <div class="row" style="margin:8px 0">
            <div class="field"><label for="role-${e.id}">Role</label>
              <select id="role-${e.id}" name="role">
                <option value="viewer" ?selected=${e.role===`viewer`}>viewer</option>
                <option value="admin" ?selected=${e.role===`admin`}>admin</option>
              </select></div>
          </div>
          ${h(e.agents)}
          <button class="btn primary" type="submit">Save</button>
          <button class="btn" type="button" @click=${()=>{s=null,v()}}>Cancel</button>
        </form></td></tr>`:D`<tr data-user=${e.id}>
      <td>${e.email}${n?D` <span class="badge">you</span>`:O}</td>
      <td><span class="badge">${e.role}</span></td>
      <td>${e.role===`admin`?D`<span class="muted">all agents</span>`:e.agents.map(e=>t.agents.find(t=>t.id===e)).filter(Boolean).map(e=>P(e)).join(`, `)||D`<span class="muted">none</span>`}</td>
      <td style="white-space:nowrap">
        <button class="btn small" @click=${()=>{s=e.id,v()}}>Edit</button>
        ${n?O:D`<button class="btn small danger" @click=${()=>void p(e)}>Delete</button>`}
      </td>
    </tr>`}function _(){let e=L();return D`${F(t,null,`settings`)}
      <main id="main" tabindex="-1">
        <h1>Settings</h1>
        <p><a class="btn" href=${N.alertsSettings()} data-link="alerts">Alerts and notifications</a></p>
        <section class="card" aria-labelledby="h-agents">
          <h2 id="h-agents">Agents</h2>
          <div class="table-wrap"><table class="list" data-table="settings-agents">
            <thead><tr><th scope="col">Agent</th><th scope="col" class="hide-sm">Created</th><th scope="col"></th></tr></thead>
            <tbody>
              ${t.agents.map(t=>D`<tr data-agent=${t.id}>
                  <td>${P(t)}${t.branding.display_name?D` <span class="muted">(${t.name})</span>`:O}</td>
                  <td class="hide-sm">${R(t.created_at,e)}</td>
                  <td style="white-space:nowrap"><a class="btn small" href=${N.agentSettings(t.id)}>Keys, sharing, branding</a>
                    <a class="btn small" href=${N.overview(t.id)}>Overview</a></td>
                </tr>`)}
            </tbody>
          </table></div>
          <form class="row" style="margin-top:12px" @submit=${e=>void l(e)}>
            <div class="field"><label for="new-agent">New agent</label>
              <input id="new-agent" name="name" type="text" maxlength="255" required placeholder="support-bot" /></div>
            <button class="btn primary" type="submit">Create agent</button>
          </form>
          ${i?D`<div class="form-error" role="alert" style="margin-top:8px">${i}</div>`:O}
        </section>

        <section class="card" aria-labelledby="h-users">
          <h2 id="h-users">Users</h2>
          <p class="muted">Admins see every agent and change settings; viewers see only their agents, read-only.</p>
          ${r?D`<div class="form-error" role="alert">${r}</div>`:O}
          ${n?D`<div class="table-wrap"><table class="list" data-table="users">
                <thead><tr><th scope="col">E-mail</th><th scope="col">Role</th><th scope="col">Agents</th><th scope="col"></th></tr></thead>
                <tbody>${n.map(g)}</tbody>
              </table></div>`:D`<p class="muted">Loading…</p>`}
          <h3>Add a user</h3>
          <form @submit=${e=>void d(e)} data-form="new-user">
            <div class="row" style="margin-bottom:12px">
              <div class="field"><label for="u-email">E-mail</label><input id="u-email" name="email" type="email" required autocomplete="off" /></div>
              <div class="field"><label for="u-password">Password</label><input id="u-password" name="password" type="password" minlength="10" required autocomplete="new-password" /></div>
              <div class="field"><label for="u-role">Role</label>
                <select id="u-role" name="role"><option value="viewer">viewer</option><option value="admin">admin</option></select></div>
            </div>
            ${h([])}
            <button class="btn primary" type="submit">Create user</button>
          </form>
          ${a?D`<div class="form-error" role="alert" style="margin-top:8px">${a}</div>`:O}
        </section>

        <section class="card" aria-labelledby="h-pw">
          <h2 id="h-pw">Your password</h2>
          <form class="row" @submit=${e=>void m(e)}>
            <div class="field"><label for="pw-cur">Current</label><input id="pw-cur" name="current_password" type="password" required autocomplete="current-password" /></div>
            <div class="field"><label for="pw-new">New</label><input id="pw-new" name="new_password" type="password" minlength="10" required autocomplete="new-password" /></div>
            <div class="field"><label for="pw-new2">New again</label><input id="pw-new2" name="new_password2" type="password" required autocomplete="new-password" /></div>
            <button class="btn" type="submit">Change password</button>
          </form>
          ${o?D`<div class="form-error" role="alert" style="margin-top:8px">${o}</div>`:O}
        </section>
      </main>`}function v(){document.title=`Settings · AgentSight`,k(_(),e)}return v(),c(),{update:v,dispose:()=>void 0}}var Ui=()=>j(`/api/settings/alerts/rules/`),Wi=e=>j(`/api/settings/alerts/rules/`,{method:`POST`,body:e}),Gi=(e,t)=>j(`/api/settings/alerts/rules/${e}/`,{method:`PUT`,body:t}),Ki=e=>j(`/api/settings/alerts/rules/${e}/`,{method:`DELETE`}),qi=e=>j(`/api/settings/alerts/rules/${e}/test/`,{method:`POST`,body:{}}),Ji=()=>j(`/api/settings/alerts/history/`),Yi=()=>j(`/api/settings/notify/targets/`),Xi=e=>j(`/api/settings/notify/targets/`,{method:`POST`,body:e}),Zi=(e,t)=>j(`/api/settings/notify/targets/${e}/`,{method:`PATCH`,body:{enabled:t}}),Qi=e=>j(`/api/settings/notify/targets/${e}/`,{method:`DELETE`}),$i=e=>j(`/api/settings/notify/targets/${e}/test/`,{method:`POST`,body:{}}),ea=()=>j(`/api/settings/notify/smtp/`),ta=e=>j(`/api/settings/notify/smtp/`,{method:`PUT`,body:e}),na=e=>j(`/api/settings/notify/smtp/test/`,{method:`POST`,body:{to:e}}),ra=()=>j(`/api/settings/notify/sends/`),ia=e=>e instanceof A||e instanceof Error?e.message:String(e),aa=[{kind:`escalation_rate`,label:`Human escalation rate`,unit:`rate 0–1`,hours:`24, 48, … (UTC days)`},{kind:`avg_response_time`,label:`Average response time`,unit:`milliseconds`,hours:`24, 48, … (UTC days)`},{kind:`tool_error_rate`,label:`Tool error rate`,unit:`rate 0–1`,hours:`24, 48, … (UTC days)`},{kind:`cost_per_day`,label:`LLM cost per day`,unit:`USD`,hours:`24, 48, … (UTC days)`},{kind:`volume_drop`,label:`Message volume drop vs. same hours last week`,unit:`fraction 0–1`,hours:`1–24 (last complete hours)`},{kind:`unanswered_rate`,label:`Unanswered rate`,unit:`rate 0–1`,hours:`24, 48, … (UTC days)`}],oa=e=>aa.find(t=>t.kind===e)?.label??e;function sa(e,t){let n=null,r=[],i=[],a=null,o=[],s=null,c={},l=null,u=!1;async function d(){try{[n,r,i,a,o]=await Promise.all([Ui(),Ji(),Yi(),ea(),ra()]),s=null}catch(e){s=ia(e)}E()}async function f(e,n,r){try{await n(),c[e]=null,r&&t.toast(r)}catch(t){c[e]=ia(t)}await d()}let p=(e,t)=>e.elements.namedItem(t).value.trim();function m(e){e.preventDefault();let t=e.target;f(`rule`,async()=>{await Wi({agent:Number(p(t,`agent`)),kind:p(t,`kind`),threshold:Number(p(t,`threshold`)),window_hours:Number(p(t,`window_hours`))}),t.reset()},`Alert rule created.`)}function h(e){e.preventDefault();let t=e.target,n=p(t,`kind`);f(`target`,async()=>{await Xi(n===`email`?{kind:n,name:p(t,`name`),email:p(t,`address`)}:{kind:n,name:p(t,`name`),url:p(t,`address`),secret:p(t,`secret`)}),t.reset()},`Target added.`)}function g(e){e.preventDefault();let t=e.target,n=p(t,`username`),r=t.elements.namedItem(`password`).value;f(`smtp`,async()=>{await ta({host:p(t,`host`),port:Number(p(t,`port`)),security:p(t,`security`),username:n||null,password:r||null,from:p(t,`from`)}),t.elements.namedItem(`password`).value=``},`SMTP settings saved.`)}function _(e){e.preventDefault();let t=e.target;f(`smtp-test`,async()=>{let e=await na(p(t,`to`));l=`Test mail: ${e.status}${e.last_error?` (${e.last_error})`:``}`})}let v=L(),y=e=>e?R(e,v):`—`,b=e=>c[e]?D`<div class="form-error" role="alert" style="margin-top:8px">${c[e]}</div>`:O,x=e=>{let n=t.agents.find(t=>t.id===e);return n?P(n):`agent ${e}`},S=e=>e?D`<span class="badge" data-status=${e}>${e}</span>`:D`<span class="muted">—</span>`;function C(e){return D`<tr data-rule=${e.id}>
      <td>${x(e.agent)}</td>
      <td>${oa(e.kind)}</td>
      <td>&gt; ${e.threshold}</td>
      <td>${e.window_hours} h</td>
      <td><span class="badge" data-state=${e.state}>${e.state}</span>${e.enabled?O:D` <span class="muted">disabled</span>`}</td>
      <td style="white-space:nowrap">
        <button class="btn small" data-action="test-rule" @click=${()=>void f(`rules`,async()=>{let t=await qi(e.id);l=`Rule ${e.id}: value ${t.value??`none`} (${t.fires?`would fire`:`would not fire`}), ${t.sends.length} test notice(s) sent`})}>Send test</button>
        <button class="btn small" @click=${()=>void f(`rules`,()=>Gi(e.id,{agent:e.agent,kind:e.kind,threshold:e.threshold,window_hours:e.window_hours,enabled:!e.enabled}))}>${e.enabled?`Disable`:`Enable`}</button>
        <button class="btn small danger" @click=${()=>{window.confirm(`Delete this rule and its history?`)&&f(`rules`,()=>Ki(e.id),`Rule deleted.`)}}>Delete</button>
      </td>
    </tr>`}function w(e){return D`<tr data-target=${e.id}>
      <td>${e.name}</td>
      <td>${e.kind}</td>
      <td>${e.address}${e.has_secret?D` <span class="muted">(signed)</span>`:O}</td>
      <td>${S(e.last_status)}${e.last_error?D`<div class="form-error" style="font-size:0.85rem">${e.last_error}</div>`:O}</td>
      <td style="white-space:nowrap">
        <button class="btn small" data-action="test-target" @click=${()=>void f(`targets`,async()=>{let t=await $i(e.id);l=`Test to ${e.name}: ${t.status}${t.last_error?` (${t.last_error})`:``}`})}>Send test</button>
        <button class="btn small" @click=${()=>void f(`targets`,()=>Zi(e.id,!e.enabled))}>${e.enabled?`Disable`:`Enable`}</button>
        <button class="btn small danger" @click=${()=>{window.confirm(`Remove ${e.name}?`)&&f(`targets`,()=>Qi(e.id),`Target removed.`)}}>Remove</button>
      </td>
    </tr>`}function T(){let e=a;return D`${F(t,null,`settings`)}
      <main id="main" tabindex="-1">
        <h1>Alerts and notifications</h1>
        ${s?D`<div class="form-error" role="alert">${s}</div>`:O}
        ${l?D`<div class="card" role="status" data-test-result>${l}</div>`:O}

        <section class="card" aria-labelledby="h-rules">
          <h2 id="h-rules">Alert rules</h2>
          <p class="muted">Evaluated every minute by the server; a rule fires when its value is above the threshold, once per episode, and every enabled target is told when it fires and when it resolves.</p>
          ${n===null?D`<p class="muted">Loading…</p>`:n.length===0?D`<p class="muted">No rules yet.</p>`:D`<div class="table-wrap"><table class="list" data-table="alert-rules">
                  <thead><tr><th scope="col">Agent</th><th scope="col">Metric</th><th scope="col">Threshold</th><th scope="col">Window</th><th scope="col">State</th><th scope="col"></th></tr></thead>
                  <tbody>${n.map(C)}</tbody></table></div>`}
          ${b(`rules`)}
          <h3>New rule</h3>
          <form class="row" data-form="new-rule" @submit=${m}>
            <div class="field"><label for="r-agent">Agent</label>
              <select id="r-agent" name="agent" required>${t.agents.map(e=>D`<option value=${e.id}>${P(e)}</option>`)}</select></div>
            <div class="field"><label for="r-kind">Metric</label>
              <select id="r-kind" name="kind">${aa.map(e=>D`<option value=${e.kind}>${e.label} (${e.unit})</option>`)}</select></div>
            <div class="field"><label for="r-threshold">Threshold</label><input id="r-threshold" name="threshold" type="number" step="any" min="0" required /></div>
            <div class="field"><label for="r-window">Window (hours)</label><input id="r-window" name="window_hours" type="number" min="1" max="744" value="24" required /></div>
            <button class="btn primary" type="submit">Create rule</button>
          </form>
          <p class="muted" style="font-size:0.85rem">Windows: ${aa.map(e=>`${e.label}: ${e.hours}`).join(`; `)}.</p>
          ${b(`rule`)}
        </section>

        <section class="card" aria-labelledby="h-history">
          <h2 id="h-history">History</h2>
          ${r.length===0?D`<p class="muted">No alert has fired.</p>`:D`<div class="table-wrap"><table class="list" data-table="alert-history">
                <thead><tr><th scope="col">Fired</th><th scope="col">Agent</th><th scope="col">Metric</th><th scope="col">Value</th><th scope="col">Threshold</th><th scope="col">State</th><th scope="col">Resolved</th></tr></thead>
                <tbody>${r.map(e=>D`<tr data-event=${e.id} data-rule=${e.rule}>
                    <td>${y(e.fired_at)}</td><td>${x(e.agent)}</td><td>${oa(e.kind)}</td>
                    <td data-value>${e.fired_value}</td><td>${e.threshold}</td>
                    <td><span class="badge" data-state=${e.state}>${e.state}</span></td>
                    <td>${y(e.resolved_at)}${e.resolved_value==null?O:D` <span class="muted">(${e.resolved_value})</span>`}</td>
                  </tr>`)}</tbody></table></div>`}
        </section>

        <section class="card" aria-labelledby="h-targets">
          <h2 id="h-targets">Targets</h2>
          <p class="muted">Webhooks get a Slack-compatible JSON body signed with <code>X-AgentSight-Signature</code>; e-mail goes through the SMTP server below.</p>
          ${i.length===0?D`<p class="muted">No targets yet.</p>`:D`<div class="table-wrap"><table class="list" data-table="targets">
                <thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Address</th><th scope="col">Last send</th><th scope="col"></th></tr></thead>
                <tbody>${i.map(w)}</tbody></table></div>`}
          ${b(`targets`)}
          <h3>Add a target</h3>
          <form class="row" data-form="new-target" @submit=${h}>
            <div class="field"><label for="t-kind">Kind</label>
              <select id="t-kind" name="kind"><option value="webhook">webhook</option><option value="email">e-mail</option></select></div>
            <div class="field"><label for="t-name">Name</label><input id="t-name" name="name" type="text" maxlength="100" required /></div>
            <div class="field"><label for="t-address">URL or e-mail address</label><input id="t-address" name="address" type="text" maxlength="2000" required /></div>
            <div class="field"><label for="t-secret">Signing secret (webhooks)</label><input id="t-secret" name="secret" type="password" maxlength="256" autocomplete="off" /></div>
            <button class="btn primary" type="submit">Add target</button>
          </form>
          ${b(`target`)}
        </section>

        <section class="card" aria-labelledby="h-smtp">
          <h2 id="h-smtp">SMTP server</h2>
          <form data-form="smtp" @submit=${g}>
            <div class="row" style="margin-bottom:12px">
              <div class="field"><label for="s-host">Host</label><input id="s-host" name="host" type="text" required .value=${e?.host??``} /></div>
              <div class="field"><label for="s-port">Port</label><input id="s-port" name="port" type="number" min="1" max="65535" required .value=${String(e?.port??587)} /></div>
              <div class="field"><label for="s-security">Security</label>
                <select id="s-security" name="security">${[`starttls`,`tls`,`none`].map(t=>D`<option value=${t} ?selected=${(e?.security??`starttls`)===t}>${t}</option>`)}</select></div>
              <div class="field"><label for="s-user">User name</label><input id="s-user" name="username" type="text" autocomplete="off" .value=${e?.username??``} /></div>
              <div class="field"><label for="s-password">Password</label><input id="s-password" name="password" type="password" autocomplete="new-password"
                placeholder=${e?.password_set?`(saved; leave empty to keep)`:``} /></div>
              <div class="field"><label for="s-from">From</label><input id="s-from" name="from" type="email" required .value=${e?.from??``} /></div>
            </div>
            <button class="btn primary" type="submit">Save SMTP settings</button>
          </form>
          ${b(`smtp`)}
          <form class="row" style="margin-top:12px" data-form="smtp-test" @submit=${_}>
            <div class="field"><label for="s-to">Send a test mail to</label><input id="s-to" name="to" type="email" required /></div>
            <button class="btn" type="submit" ?disabled=${!e?.configured}>Send test</button>
          </form>
          ${b(`smtp-test`)}
        </section>

        <section class="card" aria-labelledby="h-sends">
          <h2 id="h-sends">Sends</h2>
          ${o.length===0?D`<p class="muted">Nothing sent yet.</p>`:D`<div class="table-wrap"><table class="list" data-table="sends">
                <thead><tr><th scope="col">When</th><th scope="col">Channel</th><th scope="col">Source</th><th scope="col">To</th><th scope="col">Subject</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Error</th></tr></thead>
                <tbody>${o.map(e=>D`<tr data-send=${e.id}>
                    <td>${y(e.created_at)}</td><td>${e.channel}</td><td>${e.source}</td><td>${e.recipient}</td><td>${e.subject}</td>
                    <td>${S(e.status)}${e.next_attempt_at?D` <span class="muted">retry ${y(e.next_attempt_at)}</span>`:O}</td>
                    <td>${e.attempts}</td><td>${e.last_error??``}</td>
                  </tr>`)}</tbody></table></div>`}
        </section>
      </main>`}function E(){u||(document.title=`Alerts · Settings · AgentSight`,k(T(),e))}E(),d();let ee=window.setInterval(()=>void d(),5e3);return{update:E,dispose:()=>{u=!0,window.clearInterval(ee)}}}function ca(e){return typeof e==`number`&&Number.isFinite(e)?e:null}function la(e){return e.map(e=>{let t=e.action_logs[0];if(t){if(t.action_name===`token_usage`){let n=t.metadata;return{kind:`tokens`,m:e,prompt:ca(n.prompt_tokens),completion:ca(n.completion_tokens),total:ca(n.total_tokens)}}return{kind:`tool`,m:e,action:t}}return e.button?{kind:`button`,m:e,button:e.button}:{kind:`message`,m:e}})}function ua(e){if(e.duration_ms!==null&&e.duration_ms!==void 0)return e.duration_ms;if(e.started_at&&e.ended_at){let t=Date.parse(e.ended_at)-Date.parse(e.started_at);return Number.isFinite(t)&&t>=0?t:null}return null}function da(e){return/^image\/(png|jpe?g|gif|webp|avif|bmp)$/i.test(e.mime_type)}function fa(e){return e===`end_user`?`User`:e===`agent`?`Bot`:e===`system`?`System`:e}function pa(e,t,n,r){let i=null,a=null,o=!0,s=!1,c=!1,l=new AbortController,u=()=>bn(new URLSearchParams(location.search)).tz??L(),d=()=>N.conversations(n.id,location.search.replace(/^\?/,``));async function f(){o=!0,v();try{i=await Je(n.id,r,l.signal),a=null}catch(e){if(Me(e))return;a=e instanceof A?e.status===404?`There is no such conversation for this agent.`:e.message:String(e)}o=!1,v()}async function p(){if(i){c=!0,v();try{let e=await Ye(n.id,r,!i.is_marked);i={...i,is_marked:e.is_marked},t.toast(e.is_marked?`Marked.`:`Unmarked.`)}catch(e){t.toast(e instanceof Error?e.message:String(e),`error`)}c=!1,v()}}async function m(e){if(e.preventDefault(),!i)return;let a=e.target.elements.namedItem(`name`).value.trim();c=!0,v();try{let e=await Xe(n.id,r,a);i={...i,name:e.name},s=!1,t.toast(`Renamed.`)}catch(e){t.toast(e instanceof Error?e.message:String(e),`error`)}c=!1,v()}function h(e){return e.length===0?O:D`<div class="attachments">
      ${e.map(e=>{let t=Ze(n.id,e.id);return da(e)?D`<a href=${t} target="_blank" rel="noopener" data-attachment=${e.id} title=${e.filename}>
              <img src=${t} alt=${e.filename} loading="lazy" /></a>`:D`<a class="file" href=${t} download=${e.filename} data-attachment=${e.id}><span class="tag">File</span> ${e.filename}
              <span class="muted">${In(e.size_bytes)}</span></a>`})}
    </div>`}function g(e){let t=pn(e.m.timestamp,u());switch(e.kind){case`message`:return D`<div class="msg ${e.m.sender}" data-entry="message" data-sender=${e.m.sender}>
          <div class="meta">${fa(e.m.sender)} · <time datetime=${e.m.timestamp}>${t}</time></div>
          <div class="text">${e.m.content}</div>${h(e.m.attachments)}
        </div>`;case`tool`:{let n=e.action,r=ua(n),i=n.error_message!==``;return D`<div class="event ${i?`error`:``}" data-entry="tool" data-tool=${n.action_name}>
          <span class="tag">Tool</span> <b>${n.action_name}</b>${r===null?O:D` · <span data-duration=${r}>${Pn(r)}</span>`}
          · <time datetime=${e.m.timestamp}>${t}</time>
          ${i?D`<div class="bad" data-error>Error: ${n.error_message}</div>`:O}
          ${n.response||n.tools_used&&Object.keys(n.tools_used).length?D`<details><summary>Details</summary>
                ${n.tools_used&&Object.keys(n.tools_used).length?D`<div>Tools used</div><pre>${JSON.stringify(n.tools_used,null,2)}</pre>`:O}
                ${n.response?D`<div>Response</div><pre>${n.response}</pre>`:O}
              </details>`:O}
          ${h(e.m.attachments)}
        </div>`}case`tokens`:return D`<div class="event" data-entry="tokens"><span class="tag">Tokens</span> ${e.prompt??`?`} prompt + ${e.completion??`?`} completion
          = ${e.total??`?`} · <time datetime=${e.m.timestamp}>${t}</time></div>`;case`button`:return D`<div class="event" data-entry="button"><span class="tag">Button</span> User pressed <b>${e.button.label}</b>
          ${e.button.value&&e.button.value!==e.button.label?D`(<code>${e.button.value}</code>)`:O}
          <span class="muted">${e.button.button_event}</span> · <time datetime=${e.m.timestamp}>${t}</time></div>`}}function _(){let e=i,r=e,l=Ft(t),h=r?.ended_at?Date.parse(r.ended_at)-Date.parse(r.started_at):null;return D`${F(t,n,`conversations`)}
      <main id="main" tabindex="-1">
        <p><a href=${d()}>← All conversations</a></p>
        ${e?D`<div class="page-head">
                ${s?D`<form class="row" @submit=${m}>
                      <div class="field"><label for="name">Name</label>
                        <input id="name" name="name" type="text" maxlength="255" .value=${r?.name??``} required /></div>
                      <button class="btn primary" type="submit" ?disabled=${c}>Save</button>
                      <button class="btn" type="button" @click=${()=>{s=!1,v()}}>Cancel</button>
                    </form>`:D`<h1 data-name>${r?.is_marked?D`<span class="star" aria-label="Marked">★</span> `:O}${r?.name||r?.conversation_id}</h1>`}
                ${l&&!s?D`<button class="btn small" @click=${()=>{s=!0,v()}}>Rename</button>
                      <button class="btn small" data-action="mark" ?disabled=${c} @click=${()=>void p()}>
                        ${r?.is_marked?`Unmark`:`Mark`}</button>`:O}
              </div>
              <div class="two-col">
                <section class="card" aria-label="Messages">
                  <div class="transcript" data-transcript>
                    ${e.messages.length===0?D`<p class="muted">No messages in this conversation yet.</p>`:la(e.messages).map(g)}
                  </div>
                </section>
                <aside>
                  <section class="card" aria-label="Details">
                    <h2>Details</h2>
                    <dl class="facts">
                      <div><dt>Conversation id</dt><dd class="mono">${r?.conversation_id}</dd></div>
                      <div><dt>Customer</dt><dd>${r?.customer_id??`–`}</dd></div>
                      <div><dt>Started</dt><dd>${r?R(r.started_at,u()):``}</dd></div>
                      <div><dt>Ended</dt><dd>${r?.ended_at?R(r.ended_at,u()):`–`}</dd></div>
                      <div><dt>Duration</dt><dd>${Pn(h)}</dd></div>
                      <div><dt>Messages</dt><dd>${r?.message_count}</dd></div>
                      <div><dt>Device</dt><dd>${r?.device??`–`}</dd></div>
                      <div><dt>Source</dt><dd>${r?.source??`–`}</dd></div>
                      <div><dt>Language</dt><dd>${r?.language??`–`}</dd></div>
                      <div><dt>Location</dt><dd>${r?.geo_location?[r.geo_location.city,I(r.geo_location.country)].filter(Boolean).join(`, `):`–`}</dd></div>
                      <div><dt>Environment</dt><dd>${r?.environment??`–`}</dd></div>
                      <div><dt>Used</dt><dd>${r?.is_used?`yes`:`no (opened only)`}</dd></div>
                    </dl>
                    ${r&&Object.keys(r.metadata).length?D`<h3>Metadata</h3><pre class="mono" style="white-space:pre-wrap;font-size:0.8rem">${JSON.stringify(r.metadata,null,2)}</pre>`:O}
                  </section>
                  <section class="card" aria-label="Feedback" data-feedbacks>
                    <h2>Feedback</h2>
                    ${e.feedbacks.length===0?D`<p class="muted">No feedback records.${r&&`feedback`in r.metadata?D` Metadata says <code>${JSON.stringify(r.metadata.feedback)}</code>.`:``}</p>`:e.feedbacks.map(e=>D`<p data-sentiment=${e.sentiment}>
                            <span class="badge ${e.sentiment===`positive`?`ok`:e.sentiment===`negative`?`bad`:``}">${e.sentiment}</span>
                            <span class="muted">${e.source} · ${R(e.created_at,u())}</span>
                            ${e.comment?D`<br />${e.comment}`:O}
                          </p>`)}
                  </section>
                </aside>
              </div>`:D`<div class="card">${Nn(o?`loading`:`error`,D``,a??void 0,()=>void f(),!0)}</div>`}
      </main>`}function v(){document.title=`${i?i.name||i.conversation_id:`Conversation`} · AgentSight`,k(_(),e)}return v(),f(),{update:v,dispose:()=>l.abort()}}var X=document.getElementById(`app`);X.replaceChildren();var Z=null,Q={session:null,share:null,agents:[],navigate(e,t){e!==location.pathname+location.search&&(t?.replace?history.replaceState(null,``,e):history.pushState(null,``,e),va())},async refreshAgents(){Q.agents=await $e(),Z?.view.update()},toast:Pt,async signOut(){try{await Le()}catch{}Q.session=null,Q.agents=[],De({kind:`none`}),wt(null),Q.navigate(N.login(),{replace:!0})}};function $(e,t){Z?.key===e?Z.view.update():(Z?.view.dispose(),Z=null,k(D``,X),Z={key:e,view:t()},document.getElementById(`main`)?.focus({preventScroll:!0}))}function ma(e,t,n=null){let r=()=>k(D`${Q.session?F(Q,n,`none`):``}<main id="main"><div class="card"><h1>${e}</h1><p>${t}</p>
        <p><a href="/">Go to the start page</a></p></div></main>`,X);return r(),{update:r,dispose:()=>void 0}}async function ha(){if(Q.session)return!0;if(!(await Pe()).signed_in)return!1;try{return await ga(await ze(),!1),!0}catch(e){if(e instanceof A&&e.status===401)return!1;throw e}}async function ga(e,t){Q.session=e,De({kind:`session`,csrf:e.csrf_token}),Q.agents=await $e(),t&&Q.navigate(kt(new URLSearchParams(location.search).get(`next`)),{replace:!0})}function _a(e){wt(e?.branding??null)}async function va(){let e=Et(location.pathname),t=Dt(e);try{if(e.name===`share`){await ya(e.token,t);return}if(Q.share&&(Q.share=null,De({kind:`none`})),e.name===`setup`){_a(null),$(t,()=>Vt(X,e=>void ga(e,!0).then(()=>Q.navigate(`/`,{replace:!0}))));return}if(e.name===`login`){if(await ha()){Q.navigate(kt(new URLSearchParams(location.search).get(`next`)),{replace:!0});return}_a(null),$(t,()=>Bt(X,e=>void ga(e,!0)));return}if(!await ha()){Q.navigate(N.login(location.pathname+location.search),{replace:!0});return}let n=e=>Q.agents.find(t=>t.id===e)??null;switch(e.name){case`home`:{let e=Q.agents.length===1?Q.agents[0]:void 0;Q.navigate(e?N.overview(e.id):N.agents(),{replace:!0});return}case`agents`:_a(null),$(t,()=>It(X,Q));return;case`overview`:case`conversations`:case`transcript`:{let r=n(e.agent);if(_a(r),!r){$(t,()=>ma(`Not found`,`There is no such agent, or you may not see it.`));return}e.name===`overview`?$(t,()=>yi(X,Q,{header:()=>F(Q,r,`overview`),agentId:r.id,environments:r.environments,title:P(r),path:N.overview(r.id)})):e.name===`conversations`?$(t,()=>zn(X,Q,r)):$(t,()=>pa(X,Q,r,e.pk));return}case`settings`:case`agent-settings`:case`alerts-settings`:if(_a(null),Q.session?.user.role!==`admin`){$(t,()=>ma(`Admins only`,`Settings are for admins. Ask one to change what you need.`));return}$(t,()=>e.name===`settings`?Hi(X,Q):e.name===`alerts-settings`?sa(X,Q):zi(X,Q,e.agent));return;default:$(t,()=>ma(`Not found`,`There is no page at this address.`))}}catch(e){Z?.view.dispose(),Z=null,k(D`<main id="main"><div class="card form-error" role="alert"><h1>Something went wrong</h1><p>${e instanceof Error?e.message:String(e)}</p>
      <button class="btn" @click=${()=>void va()}>Try again</button></div></main>`,X)}}async function ya(e,t){if(Z?.key===t){Z.view.update();return}Q.session=null,De({kind:`share`,token:e});try{Q.share={token:e,info:await bt()}}catch(e){wt(null),$(t,()=>ma(`This link does not work`,e instanceof A&&e.status===401?e.message:`The shared dashboard could not be opened: ${e instanceof Error?e.message:String(e)}`));return}let n=Q.share.info;wt(n.branding);let r=n.branding.display_name?.trim()||n.agent.name;$(t,()=>yi(X,Q,{header:()=>Mt(r,n.branding),agentId:null,environments:n.agent.environments??[],title:r,path:location.pathname,note:D`<span class="sub">${n.expires_at?`Shared view · until ${new Date(n.expires_at).toLocaleString()}`:`Shared view`}</span>`}))}document.addEventListener(`click`,e=>{if(e.defaultPrevented||e.button!==0||e.metaKey||e.ctrlKey||e.shiftKey||e.altKey)return;let t=e.target?.closest?.(`a`);if(!t||t.target||t.hasAttribute(`download`))return;let n=new URL(t.href,location.href);n.origin!==location.origin||n.pathname.startsWith(`/api/`)||(e.preventDefault(),Q.navigate(n.pathname+n.search))}),window.addEventListener(`popstate`,()=>void va()),ke(()=>{Q.session=null,Q.agents=[],De({kind:`none`}),location.pathname!==`/login`&&Q.navigate(N.login(location.pathname+location.search),{replace:!0})}),va();