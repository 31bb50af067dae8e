"""RNN Playground: the Streamlit entry point (router, page config, what all pages share)."""
import streamlit as st

from ui import serving, style, wellformed

st.set_page_config(page_title="RNN Playground", page_icon="🔁", layout="wide",
                   menu_items={"About": "RNN Playground: watch SimpleRNN, LSTM and GRU models read."})
serving.setup()
style.charts_fit_phones()  # every page: no Plotly toolbar over titles on a phone

PAGES = [
    st.Page("views/home.py", title="Home", icon="🏠", default=True),
    st.Page("views/playground.py", title="Playground", icon="🔬", url_path="playground"),
    st.Page("views/compare.py", title="Compare", icon="⚖️", url_path="compare"),
    st.Page("views/gates.py", title="Why gates", icon="🧠", url_path="gates"),
    st.Page("views/space.py", title="State space", icon="🧭", url_path="space"),
    st.Page("views/train.py", title="Train", icon="🏋️", url_path="train"),
]
wellformed.install()  # once per browser session: a lone surrogate in a text box reaches the server as U+FFFD
style.sidebar_closes_on_phones()  # once per browser session: a page chosen on a phone is not left behind the bar
nav = st.navigation(PAGES)
st.session_state["_page.now"] = nav.url_path or "home"  # which page runs (ui/tour.py: a step on another page)
with st.sidebar:
    st.caption("Type a sentence and watch a recurrent network read it, word by word. "
               "Models trained in this session appear in every model picker.")
nav.run()
serving.release_memory()  # after every run: hand pages freed by this run back to the OS
