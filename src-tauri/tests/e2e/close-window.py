#!/usr/bin/env python3
"""Asks the X11 top-level window titled sys.argv[1] to close, the way a window
manager does when the user clicks its close button: a WM_PROTOCOLS /
WM_DELETE_WINDOW client message. Needs only libX11 (ctypes), no window
manager. Prints how many windows were asked; exits 1 if none."""
import ctypes
import ctypes.util
import sys

title = (sys.argv[1] if len(sys.argv) > 1 else "Tandem").encode()
X = ctypes.cdll.LoadLibrary(ctypes.util.find_library("X11") or "libX11.so.6")
Display, Window, Atom = ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong


class ClientMessage(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", Display),
        ("window", Window),
        ("message_type", Atom),
        ("format", ctypes.c_int),
        ("l", ctypes.c_long * 5),
    ]


class XEvent(ctypes.Union):
    _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]


X.XOpenDisplay.restype = Display
X.XOpenDisplay.argtypes = [ctypes.c_char_p]
X.XDefaultRootWindow.restype = Window
X.XDefaultRootWindow.argtypes = [Display]
X.XInternAtom.restype = Atom
X.XInternAtom.argtypes = [Display, ctypes.c_char_p, ctypes.c_int]
X.XQueryTree.argtypes = [
    Display,
    Window,
    ctypes.POINTER(Window),
    ctypes.POINTER(Window),
    ctypes.POINTER(ctypes.POINTER(Window)),
    ctypes.POINTER(ctypes.c_uint),
]
X.XFetchName.argtypes = [Display, Window, ctypes.POINTER(ctypes.c_char_p)]
X.XSendEvent.argtypes = [Display, Window, ctypes.c_int, ctypes.c_long, ctypes.POINTER(XEvent)]
X.XFlush.argtypes = [Display]
X.XCloseDisplay.argtypes = [Display]

display = X.XOpenDisplay(None)
if not display:
    sys.exit("cannot open the X display")
root, parent = Window(), Window()
children, count = ctypes.POINTER(Window)(), ctypes.c_uint()
X.XQueryTree(display, X.XDefaultRootWindow(display), ctypes.byref(root), ctypes.byref(parent),
             ctypes.byref(children), ctypes.byref(count))
protocols = X.XInternAtom(display, b"WM_PROTOCOLS", 0)
delete = X.XInternAtom(display, b"WM_DELETE_WINDOW", 0)
asked = 0
for i in range(count.value):
    name = ctypes.c_char_p()
    if X.XFetchName(display, children[i], ctypes.byref(name)) and name.value == title:
        event = XEvent()
        event.xclient.type = 33  # ClientMessage
        event.xclient.window = children[i]
        event.xclient.message_type = protocols
        event.xclient.format = 32
        event.xclient.l[0] = delete
        X.XSendEvent(display, children[i], 0, 0, ctypes.byref(event))
        asked += 1
X.XFlush(display)
X.XCloseDisplay(display)
print(f"asked {asked} window(s) titled {title.decode()!r} to close")
sys.exit(0 if asked else 1)
