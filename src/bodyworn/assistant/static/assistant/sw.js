/* The service worker of Body Worn Assistant: it keeps the app's shell (script, style,
 * icons, manifest, the offline page) so the app opens quickly, and nothing else. The page
 * itself, the API and every recording or live picture go to the network every time and
 * are never put in a cache: evidence stays on the camera. */
"use strict";

const SHELL = "bwa-shell-v1";
const FILES = [
  "/static/assistant/app.js",
  "/static/assistant/app.css",
  "/icons/192.png",
  "/icons/512.png",
  "/manifest.webmanifest",
  "/offline",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(FILES)));
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys().then((names) => Promise.all(
    names.filter((name) => name !== SHELL).map((name) => caches.delete(name)))));
  self.clients.claim();
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (FILES.includes(url.pathname)) {
    event.respondWith(caches.match(url.pathname).then((hit) => hit || fetch(event.request)));
    return;
  }
  if (event.request.mode === "navigate") {
    // The page comes from the service every time; only without it, the offline page.
    event.respondWith(fetch(event.request).catch(() => caches.match("/offline")));
  }
  // Everything else (the API, recordings, live video) is left to the network, uncached.
});
