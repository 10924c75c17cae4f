-- Argo CD health check for the dezky.io kinds (Partner, Tenant, MailDomain, Member, SsoApp).
-- Installed through argocd-cm.yaml beside this file; tests/py/test_argocd_health.py runs it.
-- Order matters, first match wins:
--   1. annotation dezky.io/paused: "true"              -> Suspended (the operator changes nothing)
--   2. status.observedGeneration absent or < generation -> Progressing (not looked at yet)
--   3. Ready absent, Unknown or of an older generation  -> Progressing
--   4. Ready=False and Stalled=True                     -> Degraded (retrying cannot fix it)
--   5. spec.suspended: true                             -> Suspended (access cut off on purpose)
--   6. Ready=True                                       -> Healthy
--   7. Ready=False without Stalled                      -> Progressing (the operator retries)
local hs = {}

local function condition(conditions, wanted)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == wanted then
      return c
    end
  end
  return nil
end

local function describe(c, fallback)
  if c == nil then
    return fallback
  end
  local text = c.reason or fallback
  if c.message ~= nil and c.message ~= "" then
    text = text .. ": " .. c.message
  end
  return text
end

local annotations = obj.metadata.annotations or {}
if annotations["dezky.io/paused"] == "true" then
  hs.status = "Suspended"
  hs.message = "Paused: the operator observes but changes nothing upstream (dezky.io/paused)"
  return hs
end

local generation = obj.metadata.generation or 0
local status = obj.status or {}
if status.observedGeneration == nil or status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local ready = condition(status.conditions, "Ready")
if ready ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report Ready for generation " .. tostring(generation)
  return hs
end
if ready == nil or ready.status == "Unknown" then
  hs.status = "Progressing"
  hs.message = describe(ready, "Reconciling")
  return hs
end

local stalled = condition(status.conditions, "Stalled")
if ready.status == "False" and stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled, describe(ready, "Stalled"))
  return hs
end

if obj.spec ~= nil and obj.spec.suspended == true then
  hs.status = "Suspended"
  hs.message = "Suspended: access is cut off upstream (spec.suspended)"
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "Ready")
  return hs
end

hs.status = "Progressing"
hs.message = describe(ready, "NotReady")
return hs
